"""`python -m core.train`: the command line, as the README documents it (it lives in core/engine/cli.py)."""

import sys

from core.engine.cli import main

if __name__ == "__main__":
    sys.exit(main())
