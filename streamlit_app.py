"""MNIST Lab: the entry point. `streamlit run streamlit_app.py` opens the dashboard.

The page titles and their order are part of the interface: the lecture notes refer to them.
"""

from pathlib import Path

import streamlit as st

from launch import warm_lab
from pages.ui.common import (
    SHELL_RAN,
    WANTED_PAGE,
    WANTED_QUERY,
    identity_sidebar,
    owner_cookie_delivered,
    sign_in_wall,
)
from pages.ui.services import lab

# The workers and the pages' modules start warming with the first visit's first script run (under `python -m
# launch`, with the server: then this does nothing), so a server started by `streamlit run` warms while it draws.
warm_lab()
st.set_page_config(page_title="MNIST Lab", page_icon=":material/neurology:", layout="wide")
# Contrast of captions and code, and a visible keyboard focus, on every page (no theme option sets them).
st.html(Path(__file__).parent / "pages" / "ui" / "accessible.css")

PAGES = [
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/autograd.py", title="Autograd", icon=":material/function:", url_path="autograd"),
    st.Page(
        "pages/hyperparameters.py",
        title="Hyperparameters",
        icon=":material/tune:",
        url_path="hyperparameters",
    ),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:", url_path="train"),
    st.Page("pages/mistakes.py", title="Mistakes", icon=":material/error:", url_path="mistakes"),
    st.Page("pages/class.py", title="Class", icon=":material/groups:", url_path="class"),
]

# Until a session has run st.navigation, Streamlit lists the files of pages/ in the sidebar. The config hides
# that list (client.showSidebarNavigation = false); the lab's own navigation turns the sidebar back on.
if st.get_option("client.showSidebarNavigation") is False:
    st.set_option("client.showSidebarNavigation", True)
page = st.navigation(PAGES)
st.session_state[SHELL_RAN] = True
identity_sidebar()  # every page: Sign in, or the browser keeps its owner id (a refresh keeps control of its runs)
wanted = st.session_state.pop(WANTED_PAGE, None)
if wanted:  # a deep link that arrived before the shell had ever run: see pages/ui/common.require_shell
    st.switch_page(wanted, query_params=st.session_state.pop(WANTED_QUERY, None) or None)
if not sign_in_wall():  # with every page behind sign-in, a visitor not signed in sees only Sign in
    page.run()
# After the page is drawn: the first visit starts the server's lab (embedded, a job manager), whose workers fork from
# the zygote that warm_lab started warming (with the server under `python -m launch`, else with this first script run).
lab()
owner_cookie_delivered()
