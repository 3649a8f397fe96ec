"""Start the lab's web server with its workers already warming: `python -m launch [Streamlit's options]`.

`make app` runs it. It starts the local pool's zygote (core.lab.executors.local.prewarm: torch, Accelerate and MNIST,
loaded once for every worker), or with Ray starts connecting to the lab's coordinator, and then Streamlit's own command
line, `streamlit run streamlit_app.py`, in the same process, so the job manager that the first visit asks for has been
warming (or connecting) since the server started. Streamlit 1.67 has no hook that runs when its server starts: app code
runs only when a session opens a page."""

from __future__ import annotations

import sys

APP = "streamlit_app.py"


def main(argv: list[str] | None = None) -> None:
    from core.lab.executors import executor_kind

    kind = executor_kind()
    if kind == "local":  # threads need no workers
        from core.lab.executors.local import prewarm

        prewarm()
    elif kind == "ray":  # the lab's job manager is the cluster's coordinator: connect to it (or create it) now
        from core.engine.folders import default_runs_dir
        from core.lab.coordinator import lab_client

        lab_client(default_runs_dir())
    from streamlit.web import cli as streamlit_cli  # after: its second of importing overlaps the zygote's warm-up

    sys.argv = ["streamlit", "run", APP, *(sys.argv[1:] if argv is None else argv)]
    sys.exit(streamlit_cli.main())


if __name__ == "__main__":
    main()
