"""`python -m core.train`: the command line that docs/students.md ("On the command line") documents; it lives in
core/engine/cli.py."""

from core.engine.cli import run

if __name__ == "__main__":
    run()
