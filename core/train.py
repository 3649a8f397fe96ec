"""`python -m core.train`: the command line, as the README documents it (it lives in core/engine/cli.py)."""

from core.engine.cli import run

if __name__ == "__main__":
    run()
