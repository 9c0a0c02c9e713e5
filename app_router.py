"""The router: the shared sidebar, drawn once, then the chosen page (``app.py`` runs it).

Pages are the ``page()`` functions of the modules in ``pages/``, registered by ``st.Page(callable)``
under their URL path: ``/data``, ``/descriptions``, ``/train``, ``/results``. The root URL is a hidden page
that switches to ``/data`` (a page marked ``default`` would be served at ``/`` only, so ``/data`` would be
"Page not found"). Streamlit's legacy multipage mode still sees the ``pages/`` folder, and for a first
request to a page URL in a fresh server process it runs that page file alone; each page file therefore ends
by handing over to this router (``if __name__ == "__main__": main()``), so a page never runs without the sidebar.
"""

from __future__ import annotations

import streamlit as st

from app_sidebar import draw_sidebar

FIRST_PAGE = "data"  # where the root URL leads
ROOT_URL_PATH = "start"  # the hidden page behind the root URL (its own path must be unique, and is never shown)


def app_pages() -> dict[str, st.Page]:
    """Every page by its URL path (the same objects the navigation runs, so links and switches match)."""
    from pages import PAGES

    return {p.url: st.Page(p.page, title=p.title, icon=p.icon, url_path=p.url) for p in PAGES}


def main() -> None:
    """Register the pages, draw the sidebar, run the page the URL asks for."""
    st.set_page_config(page_title="Few-shot Lab", page_icon=":material/biotech:", layout="wide")
    pages = app_pages()

    def start() -> None:
        st.switch_page(pages[FIRST_PAGE])  # the root URL shows /data, with its menu entry marked

    root = st.Page(start, title=pages[FIRST_PAGE].title, url_path=ROOT_URL_PATH, default=True, visibility="hidden")
    navigation = st.navigation([root, *pages.values()])
    draw_sidebar()
    navigation.run()
