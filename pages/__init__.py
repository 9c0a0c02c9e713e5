"""The app's pages: each module has a ``page()`` function that the router (app.py) runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PageInfo:
    url: str  # the URL path (and the page's identity for links)
    title: str
    icon: str
    page: Callable[[], None]


def _page(url: str, title: str, icon: str) -> PageInfo:
    from importlib import import_module

    return PageInfo(url, title, icon, import_module(f"pages.{url}").page)


PAGES = [
    _page("data", "Data", ":material/folder_open:"),
    _page("descriptions", "Descriptions", ":material/edit_note:"),
    _page("train", "Train", ":material/model_training:"),
    _page("results", "Results", ":material/monitoring:"),
]
