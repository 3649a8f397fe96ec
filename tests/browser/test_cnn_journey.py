"""A CNN in a real browser: choose the CNN preset, train it tiny (1 epoch on 2,000 images), then open its filters and
a digit's feature maps on Mistakes' "Inside the network". No exception on any step."""

import re
from dataclasses import replace
from urllib.parse import urlencode

import pytest

from core.engine.presets import CNN
from core.lab.urlconfig import to_query
from tests.browser.lab_server import until_shown

pytestmark = pytest.mark.browser
RUN_MS = 180_000  # a CNN epoch on 2,000 images, on two shared cores: generous


def test_train_the_cnn_preset_and_see_its_filters_and_feature_maps(streamlit_app):
    app, page = streamlit_app, streamlit_app.page

    # The preset: the Hyperparameters page's button, its preview names the conv layers.
    app.open("hyperparameters")
    until_shown(lambda: page.locator(".st-key-preset_CNN button").click(),
                page.get_by_text("1 → 8 → 16 filters (5×5) → 784 → 128 → 10").first)
    page.locator("td", has_text="Conv2d").first.wait_for()
    assert "architecture=cnn" in page.url
    app.assert_no_exception()

    # Trained tiny: the preset's own settings, one epoch on 2,000 images, through a link to the Train page.
    app.open("train?" + urlencode(to_query(replace(CNN, epochs=1, train_subset=2000))))
    page.locator(".st-key-train_start button").first.click()
    alert = page.locator('[data-testid="stAlertContainer"]', has_text="Finished: test accuracy").first
    alert.wait_for(timeout=RUN_MS)
    assert float(re.search(r"accuracy ([\d.]+) %", alert.inner_text()).group(1)) > 50
    app.assert_no_exception()

    # Inside the network: the first conv layer's 8 filters and the digit's feature maps, layer by layer.
    app.go_to("Mistakes")
    page.get_by_role("tab", name="Inside the network").click()
    page.locator("h3", has_text="What the first convolutional layer looks for: 8 filters").wait_for(timeout=60_000)
    page.locator('img[alt^="8 filters of 5×5 weights"]').first.wait_for()
    page.locator('img[alt^="Convolutional layer 1: 8 grey pictures of 28×28"]').first.wait_for()
    page.locator('img[alt^="Convolutional layer 2: 16 grey pictures of 14×14"]').first.wait_for()
    page.get_by_text("Convolutional layer 2: 16 feature maps of 14×14, after ReLU").first.wait_for()
    app.wait_until_idle()
    app.assert_no_exception()
    app.screenshot("cnn-inside")
