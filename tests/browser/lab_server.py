"""Start and stop the app's server for browser journeys and benchmarks; find Debian's Chromium.

Plain functions (no pytest), so benchmarks/ measure the same server the journeys test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
# Without the background-networking flags Chromium keeps dialling out on a machine with no internet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT_S = 90


def find_chromium() -> str | None:
    """Path of Debian's Chromium ($MNIST_LAB_CHROMIUM overrides), or None."""
    candidates = [os.environ.get("MNIST_LAB_CHROMIUM"), *CHROMIUM_CANDIDATES, shutil.which("chromium")]
    return next((p for p in candidates if p and os.access(p, os.X_OK)), None)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    """True once the Streamlit server at url answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start_lab_server(runs_dir: Path, log_path: Path | None = None) -> tuple[subprocess.Popen, str]:
    """`streamlit run streamlit_app.py` on a free port with its own runs folder; returns (process, base URL).

    Raises RuntimeError, with the end of the server's log, if it does not answer within 90 s.
    """
    port = free_port()
    env = {
        **os.environ,
        "MNIST_LAB_DATA": os.environ.get("MNIST_LAB_DATA", str(REPO / "data")),
        "MNIST_LAB_RUNS": str(runs_dir),
    }
    command = [
        sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
        "--server.headless", "true",
        "--global.developmentMode", "false",
        "--server.fileWatcherType", "none",
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with open(log_path or os.devnull, "wb") as log:
        server = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not healthy(url):
        if server.poll() is not None or time.monotonic() > deadline:
            stop_lab_server(server)
            tail = log_path.read_text()[-3000:] if log_path else "(no log kept)"
            raise RuntimeError(f"Streamlit did not start; its log:\n{tail}")
        time.sleep(0.25)
    return server, url


def stop_lab_server(server: subprocess.Popen) -> None:
    """Stop the server by its own pid: terminate, then kill if it lingers."""
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
