"""End to end in a real headless Chromium: Data -> Descriptions (generate) -> Train -> Results while training
-> restart the server -> the job kept running and its results appear with no click."""

import os

import pytest

from .browser import launch_browser, require_chromium, serve, wait_for_job

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the Streamlit selectbox labelled ``label``."""
    page.get_by_test_id("stSelectbox").filter(has_text=label).first.click()
    page.get_by_role("option", name=option, exact=True).click()


def test_generate_train_restart_and_see_results(cub_root, tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

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
            page.screenshot(path=shots / "2-descriptions.png", full_page=True)

            page.get_by_role("link", name="Train").first.click()
            page.get_by_role("button", name="Train", exact=True).click()
            expect(page.get_by_text("Running training job's settings")).to_be_visible(timeout=120_000)
            page.screenshot(path=shots / "3-train.png", full_page=True)

            page.get_by_role("link", name="Results").first.click()  # while training
            expect(page.get_by_role("heading", name="Results").first).to_be_visible(timeout=60_000)
        # The server is gone; the training job is not. A new server finds it from its folder.
        with serve(env) as port:
            page.goto(f"http://127.0.0.1:{port}/results", wait_until="domcontentloaded")
            chart = page.locator(".js-plotly-plot").first
            expect(chart).to_be_visible(timeout=300_000)  # appears by itself as units finish: no click
            page.screenshot(path=shots / "4-results.png", full_page=True)
        browser.close()
    from app_jobs import JobRegistry

    job = JobRegistry(cache).get("train")
    assert job is not None and job.status in ("running", "finished"), job and job.error
    job.cancel()  # leave no process behind
    assert sorted(p.name for p in shots.iterdir()) == ["1-data.png", "2-descriptions.png", "3-train.png", "4-results.png"]
