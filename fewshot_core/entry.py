"""The ``fewshot-lab`` console script: ``fewshot-lab app`` starts the lab app, anything else is the CLI."""

from __future__ import annotations

import os
import sys
from importlib.util import find_spec
from pathlib import Path


def app_script() -> Path:
    """The app's main script, ``fewshot_app/app.py`` of the installed ``fewshot_app`` (a wheel, or this checkout when
    installed editable). Its Streamlit config sits beside it (``fewshot_app/.streamlit/config.toml``), where
    Streamlit reads a script's own config, below environment variables and flags, which still override it."""
    spec = find_spec("fewshot_app")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the app package (fewshot_app) is not installed beside fewshot_core")
    return Path(spec.origin).resolve().parent / "app.py"


def main(argv: list[str] | None = None) -> int:
    """``fewshot-lab`` or ``fewshot-lab app [streamlit options]``: the app; ``fewshot-lab COMMAND ...``: the CLI."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] == "app":
        try:
            app = app_script()
        except FileNotFoundError as e:
            print(f"error: {e}; reinstall fewshot-lab (pip install fewshot-lab, or make run in a checkout).", file=sys.stderr)
            return 2
        # A new process (not an import): the core never imports Streamlit.
        os.execv(sys.executable, [sys.executable, "-m", "streamlit", "run", str(app), *argv[1:]])
    from .cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
