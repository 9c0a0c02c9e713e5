"""End to end in a real headless Chromium: Data -> Descriptions -> Train -> Results."""

import os

import pytest

from .browser import launch_browser, require_chromium, serve, wait_for_job

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_walk_the_app_and_draw_figure4(cub_root, tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    from fewshot_core.datasets import load_dataset
    from fewshot_core.descriptions.generate import DescribeRequest, describe
    from fewshot_core.settings import LabSettings, save_settings

    cache = tmp_path / "cache"
    env = {"FEWSHOT_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    os.environ["FEWSHOT_CACHE"] = str(cache)
    save_settings(LabSettings(dataset="cub", dataset_root=str(cub_root), model="fewshot-tiny", pretrained="", device="cpu", seeds=1))
    describe(load_dataset("cub", cub_root), DescribeRequest("attributes"), cache)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with serve(env) as port, sync_playwright() as p:
        browser = launch_browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
        expect(page.get_by_text("Train images")).to_be_visible(timeout=60_000)
        page.screenshot(path=shots / "1-data.png", full_page=True)

        page.get_by_role("link", name="Descriptions").click()
        expect(page.get_by_text("Browse and edit")).to_be_visible(timeout=60_000)
        page.screenshot(path=shots / "2-descriptions.png", full_page=True)

        page.get_by_role("link", name="Train").click()
        page.get_by_role("button", name="Train", exact=True).click()
        wait_for_job(page, "Done:")  # ~45 s alone; on a loaded machine as long as the app keeps reporting progress
        page.screenshot(path=shots / "3-train.png", full_page=True)

        page.get_by_role("link", name="Results").click()
        chart = page.locator(".js-plotly-plot").first
        expect(chart).to_be_visible(timeout=60_000)
        traces = page.evaluate("() => document.querySelector('.js-plotly-plot')._fullData.map(t => [t.name, t.y ? t.y.length : 0])")
        page.screenshot(path=shots / "4-results.png", full_page=True)
        browser.close()
    names = dict(traces)
    assert names["image only (adapter, 0 texts)"] == 7  # one point per shot count
    assert names["image + Q-Former text (text count chosen on validation)"] == 7
    assert sorted(p.name for p in shots.iterdir()) == ["1-data.png", "2-descriptions.png", "3-train.png", "4-results.png"]
