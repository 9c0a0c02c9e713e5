"""End to end in a real headless Chromium: Data -> Descriptions (generate, edit a line, judge, remove the flagged
lines, restore them: the edit survives) -> Train -> Results while training -> restart the server -> the job kept
running and its results appear with no click."""

import os
import re

import pytest

from .browser import launch_browser, require_chromium, serve, wait_for_job

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the Streamlit selectbox labelled ``label``."""
    page.get_by_test_id("stSelectbox").filter(has_text=label).first.click()
    page.get_by_role("option", name=option, exact=True).click()


def _edit_first_row(page, text: str) -> None:
    """Rewrite the first row of the description table: a canvas grid, so double-click the cell (again, should
    the page have moved under the pointer) until its text editor opens, then type over the text."""
    from playwright.sync_api import expect

    grid, editor = page.get_by_test_id("stDataFrame").first, page.locator("textarea.gdg-input")
    for _ in range(5):
        grid.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        box = grid.bounding_box()
        page.mouse.dblclick(box["x"] + box["width"] * 0.6, box["y"] + 35 + 17)  # the first row, below the header
        if editor.count():
            break
        page.keyboard.press("Escape")
    expect(editor).to_be_visible()
    editor.fill(text)
    editor.press("Enter")


def test_generate_edit_judge_remove_restore_train_restart_and_see_results(cub_root, tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    from fewshot_core.descriptions.store import DescriptionStore
    from fewshot_core.settings import LabSettings, save_settings

    cache = tmp_path / "cache"
    env = {"FEWSHOT_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    os.environ["FEWSHOT_CACHE"] = str(cache)
    save_settings(LabSettings(dataset="cub", dataset_root=str(cub_root), model="fewshot-tiny", pretrained="", device="cpu", seeds=2))
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = launch_browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        with serve(env) as port:
            page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
            expect(page.get_by_text("Train images")).to_be_visible(timeout=60_000)
            expect(page.get_by_text("1 · Data")).to_be_visible()
            page.screenshot(path=shots / "1-data.png", full_page=True)

            page.get_by_role("link", name="Descriptions").first.click()
            expect(page.get_by_text("Browse and edit")).to_be_visible(timeout=60_000)
            _choose(page, "Source", "attributes")
            page.get_by_role("button", name="Generate", exact=True).click()
            wait_for_job(page, "classes, 4 descriptions")
            expect(page.get_by_text("3 of 3 classes have descriptions")).to_be_visible(timeout=30_000)  # the new set, no click or reload
            page.screenshot(path=shots / "2-descriptions.png", full_page=True)

            mine = "A dark seabird with long narrow wings, in my words."
            _edit_first_row(page, mine)
            page.get_by_role("button", name="Save edits").click()
            expect(page.get_by_text("Saved: 1 rewritten in place")).to_be_visible(timeout=30_000)
            page.get_by_role("button", name="Judge with CLIP").click()
            wait_for_job(page, "lines judged")
            page.get_by_role("button", name="Remove the 3 flagged lines").click()
            # the tiny random CLIP flags 3 of the 4 lines: more than a quarter of the set, so the page asks first
            expect(page.get_by_text(re.compile(r"^This removes 3 of the set's 4 lines"))).to_be_visible(timeout=30_000)
            page.get_by_role("button", name="Yes, remove 3 lines").click()
            expect(page.get_by_text(re.compile(r"^Removed 3 of 4 lines"))).to_be_visible(timeout=30_000)
            page.screenshot(path=shots / "3-removed.png", full_page=True)
            page.get_by_role("button", name="Restore them (3 lines)").click()
            expect(page.get_by_text(re.compile(r"^Restored 3 lines"))).to_be_visible(timeout=30_000)
            [dset] = DescriptionStore(cache).list("cub")
            assert dset.lines(0)[0] == mine and sum(len(dset.lines(c)) for c in range(3)) == 4  # the edit survived, in place

            page.get_by_role("link", name="Train").first.click()
            page.get_by_role("button", name="Train", exact=True).click()
            expect(page.get_by_text("Running training job's settings")).to_be_visible(timeout=120_000)
            page.screenshot(path=shots / "4-train.png", full_page=True)

            page.get_by_role("link", name="Results").first.click()  # while training
            expect(page.get_by_role("heading", name="Results").first).to_be_visible(timeout=60_000)
        # The server is gone; the training job is not. A new server finds it from its folder.
        with serve(env) as port:
            page.goto(f"http://127.0.0.1:{port}/results", wait_until="domcontentloaded")
            chart = page.locator(".js-plotly-plot").first
            expect(chart).to_be_visible(timeout=300_000)  # appears by itself as units finish: no click
            page.screenshot(path=shots / "5-results.png", full_page=True)
        browser.close()
    from fewshot_app.jobs import JobRegistry

    job = JobRegistry(cache).get("train")
    assert job is not None and job.status in ("running", "finished"), job and job.error
    job.cancel()  # leave no process behind
    assert sorted(p.name for p in shots.iterdir()) == ["1-data.png", "2-descriptions.png", "3-removed.png", "4-train.png", "5-results.png"]
