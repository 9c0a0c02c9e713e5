"""Few-shot Lab: the Streamlit app (``make run``). The router draws the shared sidebar once, then the page."""

from fewshot_app.router import main

main()
