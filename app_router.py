"""The router: the shared sidebar, drawn once, then the chosen page (``app.py`` runs it).

Pages are the ``page()`` functions of the modules in ``pages/``, registered by ``st.Page(callable)``.
Streamlit's legacy multipage mode still sees the ``pages/`` folder, and for a first request to a page
URL in a fresh server process it runs that page file alone; each page file therefore ends by handing
over to this router (``if __name__ == "__main__": main()``), so a page never runs without the sidebar.
"""

from __future__ import annotations

import streamlit as st

from app_sidebar import draw_sidebar


def main() -> None:
    """Register the pages, draw the sidebar, run the page the URL asks for."""
    from pages import PAGES

    st.set_page_config(page_title="Few-shot Lab", page_icon=":material/biotech:", layout="wide")
    navigation = st.navigation([st.Page(p.page, title=p.title, icon=p.icon, url_path=p.url, default=p.url == "data") for p in PAGES])
    draw_sidebar()
    navigation.run()
