"""``python -m fewshot_core``: the command line."""

import sys

if __name__ == "__main__":
    try:
        from .cli import main

        sys.exit(main())
    except KeyboardInterrupt:  # pressed while the CLI itself was still importing
        sys.exit(130)
