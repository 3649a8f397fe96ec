"""Start the lab's web server with its workers already warming: `python -m launch [Streamlit's options]`.

`make app` runs it. It starts the local pool's zygote (core.lab.executors.local.prewarm: torch, Accelerate and MNIST,
loaded once for every worker), or with Ray starts connecting to the lab's coordinator, and then Streamlit's own command
line, `streamlit run streamlit_app.py`, in the same process, so the job manager that the first visit asks for has been
warming (or connecting) since the server started. Streamlit 1.67 has no hook that runs when its server starts: app code
runs only when a session opens a page."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable

APP = "streamlit_app.py"
PAGES_WAIT_S = 30  # the pages' warm-up waits at most this long for the workers' (both want the cores)


def warm_pages(workers_warm: Callable[[], bool]) -> None:
    """Load in this process, once the workers are warm, what a page's first visit would otherwise wait for: MNIST's
    tensors and the modules of the Mistakes page (about 2 s on a quiet 2-core machine)."""
    deadline = time.monotonic() + PAGES_WAIT_S
    while not workers_warm() and time.monotonic() < deadline:
        time.sleep(0.2)
    with contextlib.suppress(Exception):  # MNIST missing, say: the page says so, in words, at its visit
        from core.engine import data

        data.load_mnist()
        import core.views.mistakes_charts
        import core.views.mistakes_view  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    from core.lab.executors import executor_kind

    kind = executor_kind()
    workers_warm: Callable[[], bool] = lambda: True  # noqa: E731
    if kind == "local":  # threads need no workers
        from core.lab.executors.local import prewarm

        zygote = prewarm()
        workers_warm = lambda: zygote.warm or not zygote.alive  # noqa: E731
    elif kind == "ray":  # the lab's job manager is the cluster's coordinator: connect to it (or create it) now
        from core.engine.folders import default_runs_dir
        from core.lab.coordinator import lab_client

        lab_client(default_runs_dir())
    threading.Thread(target=warm_pages, args=(workers_warm,), daemon=True, name="warm-pages").start()
    from streamlit.web import cli as streamlit_cli  # after: its second of importing overlaps the zygote's warm-up

    sys.argv = ["streamlit", "run", APP, *(sys.argv[1:] if argv is None else argv)]
    sys.exit(streamlit_cli.main())


if __name__ == "__main__":
    main()
