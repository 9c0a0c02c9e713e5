"""The app's pages: each module has a ``page()`` function that the router (app_router.py) runs.

A page's module is imported when the page is first shown, not when the router starts: the Train page
alone pulls in torch, and the first page must render fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module


@dataclass(frozen=True)
class PageInfo:
    url: str  # the URL path (and the page's identity for links); also the module name in pages/
    title: str
    icon: str

    @property
    def page(self) -> Callable[[], None]:
        """The page function, importing its module on the first call."""
        return _LAZY.setdefault(self.url, _lazy(self.url))


def _lazy(url: str) -> Callable[[], None]:
    def run() -> None:
        import_module(f"pages.{url}").page()

    run.__name__ = run.__qualname__ = url
    return run


_LAZY: dict[str, Callable[[], None]] = {}  # one stable callable per page (Streamlit keys pages by URL path)

PAGES = [
    PageInfo("data", "Data", ":material/folder_open:"),
    PageInfo("descriptions", "Descriptions", ":material/edit_note:"),
    PageInfo("train", "Train", ":material/model_training:"),
    PageInfo("results", "Results", ":material/monitoring:"),
]
