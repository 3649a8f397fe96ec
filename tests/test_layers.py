"""The layers of core/ as the folders show them, checked on every module's imports (function-level ones too),
and no import cycle among the modules of core/ and pages/.

engine: settings, data, network, trainer, run store, CLI; imports nothing else of core.
lessons: may use the engine. views (words and pictures for the pages): may use the engine and lessons.
lab (the server's services): may use the engine and lessons, never views: what both need sits in the engine.
Nothing in core/ imports streamlit: the CLI, tests and torchrun use it without one.
"""

import ast
import graphlib
from pathlib import Path

from tests.lab_helpers import REPO

CORE = REPO / "core"
ALLOWED = {
    "engine": {"engine"},
    "lessons": {"engine", "lessons"},
    "views": {"engine", "lessons", "views"},
    "lab": {"engine", "lab", "lessons"},
}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # maybe a module: `from core import x`
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "core" and len(parts) > 1 else None


def test_every_module_of_core_sits_in_a_layer():
    loose = sorted(p.name for p in CORE.glob("*.py") if p.name not in {"__init__.py", "train.py"})
    assert loose == []  # core/train.py is only `python -m core.train`, the documented command


def test_imports_go_down_the_layers_only():
    wrong = []
    for path in CORE.rglob("*.py"):
        here = path.relative_to(CORE).parts[0] if len(path.relative_to(CORE).parts) > 1 else "engine"
        for module in imported_modules(path):
            there = layer_of(module)
            if there is not None and there not in ALLOWED[here]:
                wrong.append(f"{path.relative_to(CORE)} imports {module}")
    assert wrong == []


def test_core_never_imports_streamlit():
    users = [str(p.relative_to(CORE)) for p in CORE.rglob("*.py")
             if any(m.split(".")[0] == "streamlit" for m in imported_modules(p))]
    assert users == []


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_cycle_among_our_modules():
    paths = {module_name(path): path for folder in ("core", "pages") for path in (REPO / folder).rglob("*.py")}
    graph = {name: {module for module in imported_modules(path) if module in paths and module != name}
             for name, path in paths.items()}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as cycle:
        raise AssertionError(f"import cycle: {' -> '.join(cycle.args[1])}") from None
