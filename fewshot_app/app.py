"""Few-shot Lab: the Streamlit app's main script, as an installed package runs it (``fewshot-lab app``)."""

from fewshot_app.router import main

main()
