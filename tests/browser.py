"""Shared by the browser test and the app benchmark: a real `streamlit run` and headless Chromium."""

from __future__ import annotations

import os
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
