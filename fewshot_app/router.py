"""The router: the shared sidebar, drawn once, then the page the URL asks for (``app.py`` runs it).

Pages are Streamlit file pages (``st.Page(path)``), the files of ``pages/``: each is two lines that run its
view (``fewshot_app/views/``) through ``run_page``. Their URL paths are ``/data``, ``/descriptions``, ``/train`` and ``/results``. The
root URL is a hidden page that switches to ``/data`` (a page marked ``default`` is served at ``/`` only, so
``/data`` would be "Page not found"). A page's view module is imported when the page runs, so the first page
renders without the libraries that only Train needs (torch).

Streamlit's legacy multipage mode also sees a ``pages/`` folder beside the main script (Streamlit 1.67 decides
this once per process), and then runs the requested page file *alone*, with no sidebar. ``run_page`` knows
whether the router is running it; when not, it hands over to the router, which registers the pages, draws the
sidebar and runs the same file again. A run may so execute a two-line page file twice; its view runs once.

In a checkout the page files are the top-level ``pages/`` folder; an installed wheel carries the same files as
``fewshot_app/pages`` (``pyproject.toml`` maps one to the other), beside ``fewshot_app/app.py``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

import streamlit as st

from fewshot_app.sidebar import draw_sidebar

PACKAGE = Path(__file__).resolve().parent
FIRST_PAGE = "data"  # where the root URL leads
ROOT_URL_PATH = "start"  # the hidden page behind the root URL (its own path must be unique, and is never shown)
_ROUTER = threading.local()  # .running: the router is running a page in this thread, now


@dataclass(frozen=True)
class PageInfo:
    url: str  # the URL path, and the page file's name in pages/
    title: str
    icon: str


PAGES = [
    PageInfo("data", "Data", ":material/folder_open:"),
    PageInfo("descriptions", "Descriptions", ":material/edit_note:"),
    PageInfo("train", "Train", ":material/model_training:"),
    PageInfo("results", "Results", ":material/monitoring:"),
]


def pages_dir() -> Path:
    """The page files: ``fewshot_app/pages`` in an installed wheel, the checkout's ``pages/`` otherwise."""
    for folder in (PACKAGE / "pages", PACKAGE.parent / "pages"):
        if (folder / f"{FIRST_PAGE}.py").is_file():
            return folder
    raise FileNotFoundError(f"the app's page files are missing (looked in {PACKAGE / 'pages'} and {PACKAGE.parent / 'pages'})")


def app_page(info: PageInfo) -> st.Page:
    """The ``st.Page`` of one page (the same for the navigation and for links, so they match)."""
    return st.Page(pages_dir() / f"{info.url}.py", title=info.title, icon=info.icon, url_path=info.url)


def app_pages() -> dict[str, st.Page]:
    """Every page by its URL path."""
    return {p.url: app_page(p) for p in PAGES}


def page_link(url: str, label: str) -> None:
    """A link to another page of the app (by its URL path)."""
    st.page_link(app_page(next(p for p in PAGES if p.url == url)), label=label)


def main() -> None:
    """Register the pages, draw the sidebar, run the page the URL asks for."""
    st.set_page_config(page_title="Few-shot Lab", page_icon=":material/biotech:", layout="wide")
    pages = app_pages()

    def start() -> None:
        st.switch_page(pages[FIRST_PAGE])  # the root URL shows /data, with its menu entry marked

    root = st.Page(start, title=pages[FIRST_PAGE].title, url_path=ROOT_URL_PATH, default=True, visibility="hidden")
    navigation = st.navigation([root, *pages.values()])
    draw_sidebar()
    _ROUTER.running = True
    try:
        navigation.run()
    finally:
        _ROUTER.running = False


def run_page(url: str) -> None:
    """What a page file does: run its view (``fewshot_app.views.<url>.page``) under the router; a page file run
    alone (Streamlit's legacy multipage mode) hands over to the router instead, so no page lacks the sidebar."""
    if getattr(_ROUTER, "running", False):
        import_module(f"fewshot_app.views.{url}").page()
    else:
        main()
