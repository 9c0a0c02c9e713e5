"""The ``fewshot-lab`` console script: ``fewshot-lab app`` starts the lab app, anything else is the CLI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app.py"  # the app lives beside the package in a checkout


def main(argv: list[str] | None = None) -> int:
    """``fewshot-lab`` or ``fewshot-lab app [streamlit options]``: the app; ``fewshot-lab COMMAND ...``: the CLI."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] == "app":
        if not APP.is_file():
            print(f"error: the app ({APP.name}) is not beside this installation; run it from a checkout of Few-shot Lab (make run).", file=sys.stderr)
            return 2
        # A new process (not an import): the core never imports Streamlit.
        os.execv(sys.executable, [sys.executable, "-m", "streamlit", "run", str(APP), *argv[1:]])
    from .cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
