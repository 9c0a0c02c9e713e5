"""The Streamlit app, driven headless by AppTest (no browser)."""

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fewshot_core.settings import LabSettings, load_settings, save_settings

from .apppage import open_page

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def app():
    return AppTest.from_file(APP, default_timeout=60)


def test_first_start_shows_the_offline_demo(app):
    app.run()
    assert not app.exception
    assert app.title[0].value.startswith("Data · Offline demo")
    assert [m.value for m in app.metric] == ["48", "1152", "768", "yes"]


def test_a_real_dataset_without_folder_asks_for_one(app):
    save_settings(LabSettings(dataset="cub"))
    app.run()
    assert any("Set the dataset folder" in i.value for i in app.info)


def test_data_page_reports_the_dataset(app, pets_root):
    save_settings(LabSettings(dataset="pets", dataset_root=str(pets_root)))
    app.run()
    assert not app.exception
    assert [m.value for m in app.metric] == ["4", "12", "12", "no"]
    assert any("unreadable" in c.value for c in app.caption)  # the truncated sample image is listed, not fatal


def test_wrong_folder_is_an_error_message_not_a_traceback(app, tmp_path):
    save_settings(LabSettings(dataset="cub", dataset_root=str(tmp_path)))
    app.run()
    assert not app.exception
    assert "is not a CUB-200-2011 folder" in app.error[0].value


def test_settings_survive_a_refresh(app, cub_root):
    app.run()
    app.sidebar.selectbox[0].set_value("cub").run()
    app.sidebar.text_input[0].set_value(str(cub_root)).run()
    assert load_settings().dataset_root == str(cub_root)
    fresh = AppTest.from_file(APP, default_timeout=60).run()  # a new browser session
    assert fresh.sidebar.text_input[0].value == str(cub_root)
    assert [m.value for m in fresh.metric] == ["3", "12", "6", "yes"]


def test_damaged_settings_file_falls_back_to_defaults(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{not json")
    assert load_settings(path) == LabSettings()
    path.write_text(json.dumps({"dataset": "pets", "unknown_key": 1}))
    assert load_settings(path).dataset == "pets"


def test_the_server_listens_on_localhost_only():
    import tomllib

    config = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    assert config["server"]["address"] == "localhost"
    assert config["client"]["toolbarMode"] == "minimal"  # no Deploy button


def test_user_text_is_escaped_before_it_reaches_markdown():
    from fewshot_app.widgets import escape_markdown

    hostile = "[click](https://evil.example) ![x](https://evil.example/x.png) <img src=x> :red[alarm] $x^2$ www.evil.example"
    safe = escape_markdown(hostile)
    assert not re.search(r"(?<!\\)[\[\]()<>$!]", safe)  # every link, image, tag, directive and formula character is escaped
    assert "://" not in safe and "www." not in safe  # nor can a bare URL become a link
    assert safe.replace("\\", "") == hostile  # the text itself still shows
    assert escape_markdown("001.Black_footed_Albatross {class_name}") == "001.Black_footed_Albatross {class_name}"  # plain text unchanged


def test_description_keys_are_escaped_on_the_descriptions_page(cub_root, tmp_path, monkeypatch):
    from fewshot_core.datasets import load_dataset
    from fewshot_core.descriptions.generate import DescribeRequest, describe
    from fewshot_core.descriptions.sources import GenerationSettings

    monkeypatch.setenv("FEWSHOT_CACHE", str(tmp_path / "cache"))
    save_settings(LabSettings(dataset="cub", dataset_root=str(cub_root), cache_root=str(tmp_path / "cache")))
    hostile = DescribeRequest("openai-compatible", "Describe a {class_name} [click](https://evil.example).", GenerationSettings(model="m"))
    describe(load_dataset("cub", cub_root), hostile, tmp_path / "cache", classes=[], source=object())
    page = open_page("descriptions")
    assert not page.exception
    settings_caption = next(c.value for c in page.caption if "Settings:" in c.value)
    assert "\\[click\\]\\(https:\\/\\/evil" in settings_caption and "[click](https://" not in settings_caption


class _FakePage:
    """Just enough of a Playwright page for ``wait_for_job``: a scripted sequence of progress texts."""

    def __init__(self, progress: list[str], done_after: int | None):
        self.progress, self.done_after, self.polls = progress, done_after, 0

    def get_by_text(self, text):
        page = self

        class _Found:
            def count(self):
                return int(text == "Done:" and page.done_after is not None and page.polls >= page.done_after)

            def all_inner_texts(self):
                return []

        return _Found()

    def locator(self, _selector):
        page = self

        class _Bars:
            def all_inner_texts(self):
                return [page.progress[min(page.polls, len(page.progress) - 1)]]

        return _Bars()

    def wait_for_timeout(self, _ms):
        self.polls += 1


def test_the_browser_test_waits_on_progress_not_a_fixed_time():
    from .browser import wait_for_job

    moving = _FakePage([f"Training: step {i}" for i in range(50)], done_after=40)
    wait_for_job(moving, "Done:", stall_s=0.05, poll_s=0.002)  # 40 polls, each with new progress: no stall
    assert moving.polls == 40
    with pytest.raises(AssertionError, match="no progress for 0 s .*Training: stuck"):
        wait_for_job(_FakePage(["Training: stuck"], done_after=None), "Done:", stall_s=0.05, poll_s=0.002)


def test_the_browser_test_fails_under_ci_without_chromium(monkeypatch):
    from . import browser

    monkeypatch.setattr(browser, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        browser.require_chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no Chromium"):
        browser.require_chromium()


def test_a_page_file_run_alone_still_draws_the_sidebar():
    """Streamlit's legacy pages/ mode runs a page file alone on a first request to its URL: it hands over to the router."""
    page = AppTest.from_file(str(Path(APP).parent / "pages" / "results.py"), default_timeout=60).run()
    assert not page.exception
    assert [w.label for w in page.sidebar.selectbox][:1] == ["Dataset"]
    page.run()  # and again on a rerun, which AppTest (like a fresh server) serves from the page file alone
    assert [w.label for w in page.sidebar.selectbox][:1] == ["Dataset"]


def test_the_packaged_main_script_serves_the_file_pages_with_the_sidebar():
    """``fewshot-lab app`` runs ``fewshot_app/app.py``: it finds the page files and every page gets the sidebar."""
    from streamlit.util import calc_hash

    from fewshot_app.router import PAGES, pages_dir

    assert sorted(p.name for p in pages_dir().glob("*.py")) == sorted(f"{p.url}.py" for p in PAGES)
    main = Path(APP).parent / "fewshot_app" / "app.py"
    page = AppTest.from_file(str(main), default_timeout=60).run()
    page._page_hash = calc_hash("results")
    page.run()
    assert not page.exception
    assert [w.label for w in page.sidebar.selectbox][:1] == ["Dataset"]
    assert page.title[0].value == "Results"  # the Results view ran, on the private (empty) cache
    assert any(i.value.startswith("No runs yet") for i in page.info)
