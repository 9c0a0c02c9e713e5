"""``python -m fewshot_core``: the command line."""

import os
import sys

if __name__ == "__main__":
    try:
        from .cli import main

        code = main()
    except KeyboardInterrupt:  # pressed while the CLI itself was still importing
        code = 130
    if code == 130:
        # Ctrl-C: leave at once. The interpreter's teardown (torch, requests left waiting on a server) takes
        # seconds; every cache write is atomic, so skipping it loses nothing. A local Ray instance is stopped
        # first (os._exit skips exit hooks: its agents would outlive us by a minute).
        from .ray_local import shutdown_ray

        shutdown_ray()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    sys.exit(code)
