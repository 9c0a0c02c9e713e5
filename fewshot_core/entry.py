"""The ``fewshot-lab`` console script: ``fewshot-lab app`` starts the lab app, anything else is the CLI."""

from __future__ import annotations

import os
import sys
import tomllib
from importlib.util import find_spec
from pathlib import Path


def app_files() -> tuple[Path, Path | None]:
    """The app's main script and its Streamlit config: from the installed ``fewshot_app`` (a wheel carries
    ``fewshot_app/streamlit/config.toml``; an editable install's config is the checkout's ``.streamlit/``)."""
    spec = find_spec("fewshot_app")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the app package (fewshot_app) is not installed beside fewshot_core")
    package = Path(spec.origin).resolve().parent
    config = next((c for c in (package / "streamlit" / "config.toml", package.parent / ".streamlit" / "config.toml") if c.is_file()), None)
    return package / "app.py", config


def streamlit_flags(config: Path | None) -> list[str]:
    """The config file's settings as ``streamlit run`` flags (Streamlit reads ``.streamlit/`` from the cwd only)."""
    if config is None:
        return []
    flags = []
    for section, options in tomllib.loads(config.read_text()).items():
        for name, value in options.items():
            for one in value if isinstance(value, list) else [value]:  # a list option is the flag repeated
                flags.append(f"--{section}.{name}={str(one).lower() if isinstance(one, bool) else one}")
    return flags


def main(argv: list[str] | None = None) -> int:
    """``fewshot-lab`` or ``fewshot-lab app [streamlit options]``: the app; ``fewshot-lab COMMAND ...``: the CLI."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] == "app":
        try:
            app, config = app_files()
        except FileNotFoundError as e:
            print(f"error: {e}; reinstall fewshot-lab (pip install fewshot-lab, or make run in a checkout).", file=sys.stderr)
            return 2
        # A new process (not an import): the core never imports Streamlit. Options given here come last and win.
        os.execv(sys.executable, [sys.executable, "-m", "streamlit", "run", str(app), *streamlit_flags(config), *argv[1:]])
    from .cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
