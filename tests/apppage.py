"""Opening one page of the app in AppTest.

The pages are file pages registered under their URL path (``st.Page(pages/data.py, url_path="data")``);
a page is chosen by the hash Streamlit gives its URL path (what a browser's URL selects).
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


def run_fragments(app: AppTest, timeout: float | None = None) -> AppTest:
    """What a browser does every second for the page's ``st.fragment(run_every=...)``: rerun only the fragments,
    with no click. The tree then holds the fragments alone, unless one of them asked for a whole-page rerun."""
    from unittest import mock

    from streamlit.testing.v1 import local_script_runner

    ids = list(app._fragment_storage._fragments)
    real = local_script_runner.RerunData

    def fragment_rerun(**kwargs):
        return real(**kwargs, fragment_id_queue=ids, is_auto_rerun=True)

    with mock.patch.object(local_script_runner, "RerunData", fragment_rerun):
        return app.run(timeout=timeout)


def open_url(path: str, timeout: float = 120) -> AppTest:
    """Open the app as a browser does for a typed URL (``/data``): by the page's name, not its hash."""
    from unittest import mock

    from streamlit.testing.v1 import local_script_runner

    real = local_script_runner.RerunData

    def by_name(**kwargs):
        return real(**{**kwargs, "page_script_hash": ""}, page_name=path.strip("/"))

    app = AppTest.from_file(APP, default_timeout=timeout)
    with mock.patch.object(local_script_runner, "RerunData", by_name):
        return app.run()
