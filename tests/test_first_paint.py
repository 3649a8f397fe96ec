"""The first visit of a fresh server paints the shell and Home's text before the heavy imports."""

import subprocess
import sys
import tomllib

from tests.lab_helpers import APP, REPO

BEFORE_FIRST_PAINT = """
import sys
import pages.ui.common, core.views.network_diagram  # what streamlit_app.py and Home import before their text
heavy = sorted({"torch", "torchvision", "accelerate"} & set(sys.modules))
assert not heavy, heavy
"""


def test_the_shell_and_home_import_nothing_heavy_before_their_text():
    done = subprocess.run([sys.executable, "-c", BEFORE_FIRST_PAINT], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    home = (REPO / "pages/home.py").read_text()
    top = home[: home.index("st.title(")]
    assert "core.views.samples" not in top and "torch" not in top


def test_the_shell_runs_navigation_before_starting_the_lab():
    shell = APP.read_text()
    assert shell.index("st.navigation(") < shell.index("page.run()") < shell.rindex("\nlab()")


def test_the_server_config_keeps_training_and_pages_fast_and_hides_the_file_list():
    config = tomllib.loads((REPO / ".streamlit/config.toml").read_text())
    # A full garbage collection after each fragment refresh stalled training 8x with three tabs watching.
    assert config["runner"]["postScriptGC"] is False
    assert config["client"]["showSidebarNavigation"] is False
