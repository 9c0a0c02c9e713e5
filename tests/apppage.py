"""Opening one page of the app in AppTest.

The pages are callables registered by URL path (``st.Page(page, url_path=...)``); AppTest.switch_page
only matches page files, so a page is chosen by the hash Streamlit gives its URL path (what a browser's
URL selects).
"""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest
from streamlit.util import calc_hash

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_page(page: str, timeout: float = 120) -> AppTest:
    """Run the app once, then the page at URL path ``page`` (data, descriptions, train, results)."""
    app = AppTest.from_file(APP, default_timeout=timeout).run()
    app._page_hash = calc_hash(page)
    return app.run()
