"""Few-shot Lab: the Streamlit app. The router (app_router.py) draws the shared sidebar once, then the page."""

from app_router import main

main()
