"""Home: what the lab is, the lecture's network, a few MNIST digits, and where to go next."""

import streamlit as st

from core.views.network_diagram import network_dot, network_words
from pages.ui.charts import chart
from pages.ui.common import mnist, require_shell, table

require_shell("pages/home.py")

st.title("MNIST Lab")
st.markdown(
    "An interactive companion to the lecture. You watch PyTorch compute gradients, train the lecture's "
    "network on MNIST's 70,000 handwritten digits, and look closely at the digits it gets wrong. "
    "Everything runs on this server: change a number and see what happens."
)

st.header("The network from the lecture")
network = network_words()
# The table under the diagram is its numbers, shown to everyone: no second table in an expander.
chart(network_dot(), network, key="home_network", numbers=False, width="stretch")
table(network.numbers)

st.header("What the network reads")
data = mnist()  # the first visit of a server loads MNIST here, behind a spinner, after the text above is shown
if data is not None:
    from core.views.samples import one_per_class, strip, strip_words  # imports torch: only once the text is shown

    picks = one_per_class(data.test_labels)
    digits = strip_words([int(data.test_labels[i]) for i in picks])
    st.image(strip(data.test_images, picks).numpy(), caption=digits.summary, alt=digits.alt)
    st.caption(
        f"{len(data.train_images):,} training and {len(data.test_images):,} test images, 28×28 grey pixels each."
    )

st.header("Where to go next")
st.page_link("pages/autograd.py", label="Autograd: how PyTorch computes derivatives", icon=":material/function:")
st.page_link("pages/hyperparameters.py", label="Hyperparameters: what each setting changes", icon=":material/tune:")
st.page_link("pages/train.py", label="Train: the lecture's network, live", icon=":material/model_training:")
st.page_link("pages/mistakes.py", label="Mistakes: the digits it gets wrong", icon=":material/error:")
st.page_link("pages/class.py", label="Class: the class's leaderboard and challenge", icon=":material/groups:")
