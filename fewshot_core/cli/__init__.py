"""The command line: a thin layer over the library. Each command runs a job spec (``jobspec.py``), read from
``--config FILE`` and/or its flags (flags override the file). User errors print one line and exit 2."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import FewShotError
from ..jobspec import SPECS, JobSpec, spec_from_file
from ..redact import redact_text
from .flags import apply_settings, given_settings
from .io import close_events, close_progress_bars, emit, open_events, setup_logging
from .parser import build_parser
from .resources import resolve_paths

__all__ = ["build_parser", "main", "spec_from_args"]


def spec_from_args(args: argparse.Namespace) -> JobSpec:
    """The spec a parsed command line asks for: its ``--config`` file (or the command's defaults), the flags
    given on top, paths resolved; not yet validated."""
    spec = spec_from_file(args.config, args.command, os.environ) if args.config else SPECS[args.command]()
    return resolve_paths(apply_settings(spec, given_settings(args)))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 done, 2 a user error, 130 interrupted by Ctrl-C)."""
    args, code = None, 2
    try:
        args = build_parser().parse_args(argv)
        setup_logging(args.verbose)
        open_events(args)
        if hasattr(args, "run_flags"):  # the demo's flag-only commands
            if hasattr(args, "cache"):  # a cache that cannot be a folder: one line, now
                from ..layout import CacheLayout

                CacheLayout.resolve(args.cache)
            code = int(args.run_flags(args) or 0)
            return code
        spec = spec_from_args(args)
        spec.validate()  # the one check of the settings, before any work
        code = int(args.run(spec) or 0)
        return code
    except SystemExit as e:  # argparse: --help (0) or a bad argument (2, message already printed)
        return e.code if isinstance(e.code, int) else 2
    except FewShotError as e:
        if args is not None and args.verbose:
            raise
        close_progress_bars()
        message = redact_text(str(e))  # a URL with credentials in it is never printed or logged
        print(f"error: {message}", file=sys.stderr)
        emit("error", message=message)
        return 2
    except KeyboardInterrupt:
        code = 130
        close_progress_bars()
        print("interrupted; finished work is kept in the cache", file=sys.stderr)
        return 130
    except BaseException as e:
        code = 1
        emit("error", message=redact_text(f"{type(e).__name__}: {e}"))
        raise
    finally:
        emit("end", exit_code=code)
        close_events()
