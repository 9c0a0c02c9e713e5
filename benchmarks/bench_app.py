"""App speed in a real browser: time to the first rendered page, and to redraw Results from disk; and the
job figures: from Cancel to the job's end, and from Generate (local LLM) to the first class shown.

The reference in the same run is a one-line Streamlit app served and rendered the same way, so
`first_render_s - reference_first_render_s` is what the app itself adds.

Usage: python benchmarks/bench_app.py
Prints as its last line JSON with first_render_s, results_redraw_s, cancel_to_end_s and generate_local_first_class_s.
`--jobs-only` measures the two job figures alone (no browser needed).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from _common import emit, machine

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # app_jobs lives beside app.py
from browser import launch_browser, serve  # noqa: E402

from fewshot_core.qformer import QFormerTrainConfig  # noqa: E402
from fewshot_core.sweep import SweepConfig, run_sweep  # noqa: E402
from fewshot_core.synthetic import make_synthetic  # noqa: E402


def first_render(playwright, script: Path, text: str, env: dict[str, str]) -> float:
    """Seconds from `streamlit run` to ``text`` visible in Chromium."""
    from playwright.sync_api import expect

    start = time.perf_counter()
    with serve(env, script) as port:
        browser = launch_browser(playwright)
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
        expect(page.get_by_text(text).first).to_be_visible(timeout=60_000)
        elapsed = time.perf_counter() - start
        browser.close()
    return elapsed


def results_redraw(playwright, env: dict[str, str]) -> float:
    """Seconds from clicking Results (app already warm) to Figure 4 drawn."""
    from playwright.sync_api import expect

    with serve(env) as port:
        browser = launch_browser(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
        page.get_by_role("link", name="Results").first.click()
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)  # warm-up: imports done
        page.get_by_role("link", name="Data").first.click()
        expect(page.get_by_role("heading", name="Data").first).to_be_visible(timeout=60_000)
        start = time.perf_counter()
        page.get_by_role("link", name="Results").first.click()
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=60_000)
        elapsed = time.perf_counter() - start
        browser.close()
    return elapsed


def cancel_to_end(cache: Path) -> float:
    """Seconds from cancelling a running sweep job (what the Cancel button calls) to the job's process ending."""
    from app_jobs import JobRegistry

    argv = ["reproduce", "--dataset", "synthetic", "--shots", "1", "2", "4", "--texts", "0", "5", "--qformer-epochs", "200", "--cache", str(cache)]
    job = JobRegistry(cache).start("train", argv)
    while not job.metric_series("qformer_loss"):  # mid-training: the Q-Former is running
        if not job.running:
            raise RuntimeError(f"the sweep job ended early: {job.error}")
        time.sleep(0.1)
    start = time.perf_counter()
    job.cancel()
    return time.perf_counter() - start


def generate_first_class(cache: Path) -> tuple[float, dict]:
    """Seconds from starting a local-LLM describe job on the demo (what Generate does) to its first class saved."""
    from app_jobs import JobRegistry

    argv = ["describe", "--dataset", "demo", "--source", "local", "--max-tokens", "160", "--batch-size", "1", "--classes", "3", "--cache", str(cache)]
    start = time.perf_counter()
    job = JobRegistry(cache).start("describe", argv, slot="local")
    while True:
        event = job.progress("classes")
        if event and event.get("done", 0) >= 1:
            elapsed = time.perf_counter() - start
            job.cancel()
            return elapsed, event.get("metrics", {})
        if not job.running:
            raise RuntimeError(f"the describe job ended early: {job.error}")
        time.sleep(0.2)


def job_figures() -> dict:
    import os

    from fewshot_core.datasets import load_dataset

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FEWSHOT_CACHE"] = tmp  # the jobs inherit it
        load_dataset("demo", None)  # generated once beforehand, as in the app: the timing is the LLM's alone
        cancel = cancel_to_end(Path(tmp))
        cold, _ = generate_first_class(Path(tmp))  # the first run also converts the embedded GGUF model (kept in the cache)
        first, metrics = generate_first_class(Path(tmp))
    return {
        "cancel_to_end_s": round(cancel, 2),
        "generate_local_first_class_first_time_s": round(cold, 2),
        "generate_local_first_class_s": round(first, 2),
        "local_tokens_per_s": round(metrics.get("tokens_per_s", 0.0), 1),
        "job_targets": "cancel to end <= 5 s, generate (local) to first class <= 60 s",
    }


def main() -> None:
    if "--jobs-only" in sys.argv:
        emit({"benchmark": "app-jobs", **job_figures(), **machine()})
        return
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        env = {"FEWSHOT_CACHE": tmp, "HF_HUB_OFFLINE": "1"}
        cfg = SweepConfig(shots=[1, 2, 4], text_counts=[0, 5], seeds=[0, 1], qformer_size="tiny", qformer_train=QFormerTrainConfig(epochs=1))
        run_sweep(make_synthetic(), cfg, Path(tmp) / "runs" / "bench")  # stored results to redraw
        hello = Path(tmp) / "hello.py"
        hello.write_text("import streamlit as st\nst.title('Hello')\n")
        with sync_playwright() as p:
            reference = first_render(p, hello, "Hello", env)
            first = first_render(p, Path(__file__).resolve().parents[1] / "app.py", "Settings", env)
            redraw = results_redraw(p, env)
    emit(
        {
            "benchmark": "app",
            "reference_first_render_s": round(reference, 2),
            "first_render_s": round(first, 2),
            "results_redraw_s": round(redraw, 2),
            "targets": "first render <= 5 s, results redraw <= 1 s",
            **job_figures(),
            **machine(),
        }
    )


if __name__ == "__main__":
    main()
