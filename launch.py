"""Start the lab's web server with its workers already warming: `python -m launch [Streamlit's options]`.

`make app` runs it. It starts the lab's warm-up (`warm_lab`): the local pool's zygote (core.lab.executors.local.prewarm:
torch, Accelerate and MNIST, loaded once for every worker), or with Ray the connection to the lab's coordinator, and
then Streamlit's own command line, `streamlit run streamlit_app.py`, in the same process, so the job manager that the
first visit asks for has been warming (or connecting) since the server started. Streamlit 1.67 has no hook that runs
when its server starts: app code runs only when a session opens a page. So a server started by `streamlit run`
itself, as most hosts start an app, warms from its first page's first script run: streamlit_app.py calls `warm_lab`
too (once per process: under launch it has begun already)."""

from __future__ import annotations

import ast
import contextlib
import importlib
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

APP = "streamlit_app.py"
PAGES_DIR = Path(__file__).resolve().parent / "pages"
PAGES_WAIT_S = 30  # the pages' warm-up waits at most this long for the workers' (both want the cores)
_warm_lock = threading.Lock()
_warm_started = False


def warm_lab() -> None:
    """Start the lab's warm-up in the background, once per process: the workers (the local zygote), or the
    connection to the Ray coordinator, then the pages' data and modules (warm_pages). Returns at once."""
    global _warm_started
    with _warm_lock:
        if _warm_started:
            return
        _warm_started = True
    from core.lab.executors import executor_kind

    kind = executor_kind()
    workers_warm: Callable[[], bool] = lambda: True  # noqa: E731
    if kind == "local":  # threads need no workers
        from core.lab.executors.local import prewarm

        zygote = prewarm()
        workers_warm = lambda: zygote.warm or not zygote.alive  # noqa: E731
    elif kind == "ray":  # the lab's job manager is the cluster's coordinator: connect to it (or create it) now
        from core.engine.folders import default_runs_dir
        from core.lab.lab_client import lab_client

        lab_client(default_runs_dir())
    threading.Thread(target=warm_pages, args=(workers_warm,), daemon=True, name="warm-pages").start()


def page_modules(pages_dir: Path | None = None) -> list[str]:
    """The modules the lab's pages import (read from their source, so a page's new import is warmed too)."""
    names: dict[str, None] = {}
    for page in sorted((pages_dir or PAGES_DIR).glob("*.py")):
        for node in ast.walk(ast.parse(page.read_text())):
            if isinstance(node, ast.Import):
                names.update(dict.fromkeys(alias.name for alias in node.names))
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names[node.module] = None
                # `from package import module`: the module too (warm_pages skips a name that is not one)
                names.update(dict.fromkeys(f"{node.module}.{alias.name}" for alias in node.names))
    return list(names)


def warm_pages(workers_warm: Callable[[], bool]) -> None:
    """Load in this process, once the workers are warm, what a page's first visit would otherwise wait for: MNIST's
    tensors and the modules every page imports."""
    deadline = time.monotonic() + PAGES_WAIT_S
    while not workers_warm() and time.monotonic() < deadline:
        time.sleep(0.2)
    with contextlib.suppress(Exception):  # MNIST missing, say: the page says so, in words, at its visit
        from core.engine import data

        data.load_mnist()
    for name in page_modules():
        parent, _, last = name.rpartition(".")
        if parent in sys.modules and hasattr(sys.modules[parent], last):
            continue  # a function or a class of a module imported already (or a module imported with it)
        with contextlib.suppress(Exception):  # a page meets the same error at its visit, and shows it there
            importlib.import_module(name)


def main(argv: list[str] | None = None) -> None:
    warm_lab()
    from streamlit.web import cli as streamlit_cli  # after: its second of importing overlaps the zygote's warm-up

    sys.argv = ["streamlit", "run", APP, *(sys.argv[1:] if argv is None else argv)]
    sys.exit(streamlit_cli.main())


if __name__ == "__main__":
    sys.modules.setdefault("launch", sys.modules[__name__])  # streamlit_app's `import launch` finds this module
    main()
