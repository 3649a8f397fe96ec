"""MNIST Lab: the entry point. `streamlit run streamlit_app.py` opens the dashboard.

The page titles and their order are part of the interface: the lecture notes refer to them.
"""

import streamlit as st

from pages.common import SHELL_RAN, WANTED_PAGE, job_manager

st.set_page_config(page_title="MNIST Lab", page_icon=":material/neurology:", layout="wide")
st.session_state[SHELL_RAN] = True
# The first visit to any page starts the server's job manager, whose warm-up loads MNIST and Accelerate in
# the background: the first click on Train then does not wait for them.
job_manager()

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
]

page = st.navigation(PAGES)
wanted = st.session_state.pop(WANTED_PAGE, None)
if wanted:  # a deep link that arrived before the shell had ever run: see pages/common.require_shell
    st.switch_page(wanted)
page.run()
