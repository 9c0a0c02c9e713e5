"""Shared by the browser test and the app benchmark: a real `streamlit run` and headless Chromium."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("FEWSHOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(env: dict[str, str], port: int, script: Path = ROOT / "app.py") -> subprocess.Popen:
    """``streamlit run <script>`` headless on 127.0.0.1:port (from the repository, so its config applies)."""
    args = ["--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true"]
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), *args]
    return subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextmanager
def serve(env: dict[str, str], script: Path = ROOT / "app.py") -> Iterator[int]:
    """Run a Streamlit script for the duration of the block; yields its port."""
    port = free_port()
    server = start_app(env, port, script)
    try:
        wait_for_port(port)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_for_port(port: int, timeout: float = 60) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


def launch_browser(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def require_chromium() -> None:
    """Skip without Chromium, except under CI (``CI=true``), where a missing browser is a failure."""
    if Path(CHROMIUM).exists():
        return
    import pytest

    reason = f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does) to run the browser test"
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(f"{reason}; CI=true, so the browser test must run", pytrace=False)
    pytest.skip(reason)


def wait_for_job(page, done_text: str, stall_s: float = 180, poll_s: float = 1.0) -> None:
    """Wait until ``done_text`` shows, for as long as the app's own progress bar keeps moving.

    A loaded machine is slow but still reports progress; a job that reports nothing new for ``stall_s``
    seconds, or fails, ends the wait with the last progress seen.
    """
    last, since = None, time.monotonic()
    while not page.get_by_text(done_text).count():
        failed = page.get_by_text(re.compile(r" failed: ")).all_inner_texts()
        if failed:
            raise AssertionError(f"the job failed: {failed[0]}")
        state = tuple(t.split(" · ")[0] for t in page.locator('[data-testid="stProgress"]').all_inner_texts())  # not the elapsed time
        if state != last:
            last, since = state, time.monotonic()
        elif time.monotonic() - since > stall_s:
            raise AssertionError(f"no progress for {stall_s:.0f} s while waiting for {done_text!r}; last progress: {last}")
        page.wait_for_timeout(poll_s * 1000)
