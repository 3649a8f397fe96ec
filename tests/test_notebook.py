"""Every run as a notebook (core.engine.reproduce.reproduce_notebook): the script's code, a line of text above each
cell, and, run headless with nbclient, the run's own accuracy."""

import json
from dataclasses import replace

import nbformat
import pytest
from nbclient import NotebookClient

from core.engine.config import SETTINGS, TrainConfig
from core.engine.folders import default_root
from core.engine.reproduce import reproduce_notebook, reproduce_script
from core.engine.run_store import RunStore
from core.engine.trainer import Trainer
from tests.test_reproduce import another_value, imported, script_constants

CNN = TrainConfig(architecture="cnn", conv_channels=(4, 8), kernel_size=3, hidden=(16,), activation="gelu",
                  dropout=0.2, optimizer="adam", lr=0.003, normalize="standard", seed=4)


def cells(text: str) -> list:
    notebook = nbformat.reads(text, as_version=4)
    nbformat.validate(notebook)
    return notebook.cells


@pytest.mark.parametrize("config", [TrainConfig(), CNN], ids=["lecture", "cnn"])
def test_each_code_cell_is_the_scripts_code_with_a_line_of_text_above_it(config):
    found = cells(reproduce_notebook(config, "20260101-000000-abcd", [(10, 0.2)]))
    assert found[0].cell_type == "markdown" and "20260101-000000-abcd" in found[0].source
    assert config.layers_text() in found[0].source
    pairs = list(zip(found[1::2], found[2::2], strict=True))
    assert all(text.cell_type == "markdown" and code.cell_type == "code" for text, code in pairs)
    assert all(text.source.startswith("**") and len(text.source) > 40 for text, _ in pairs)
    script = reproduce_script(config, "20260101-000000-abcd", [(10, 0.2)])
    only_here = [code.source for _, code in pairs if code.source not in script]
    assert len(only_here) == 2  # where MNIST is (the script reads --data-dir), and the loss plot
    assert any('DATA_DIR = "data"' in code for code in only_here)
    assert any("alt.Chart" in code for code in only_here)
    assert pairs[-1][1].source.startswith("accelerator.print(json.dumps(")  # the script's last line, too
    assert imported("\n".join(code.source for _, code in pairs)) == {
        "json", "math", "torch", "accelerate", "torchmetrics", "torchvision", "altair", "pandas"}


@pytest.mark.parametrize("name", list(SETTINGS))
def test_every_setting_reaches_the_notebook_as_in_the_script(name):
    config = replace(TrainConfig(), **{name: another_value(name)})
    code = "\n".join(cell.source for cell in cells(reproduce_notebook(config)) if cell.cell_type == "code")
    constants = script_constants(code)
    assert constants[name.upper()] == getattr(config, name)
    assert constants == {k: v for k, v in script_constants(reproduce_script(config)).items()
                         if k != "DATA_DIR"} | {"DATA_DIR": "data"}


def test_the_same_run_gives_the_same_notebook():
    assert reproduce_notebook(CNN, "x") == reproduce_notebook(CNN, "x") != reproduce_notebook(CNN, "y")


def train_and_save(config: TrainConfig, data) -> str:
    """Train in this process and save the run as the lab does; its id."""
    recorder = RunStore().create(config)
    Trainer(config, data, callbacks=[recorder], run_folder=recorder.path).fit()
    return recorder.id


def execute(notebook: str, folder) -> str:
    """Run every cell headless, from `folder` (where data/ leads to MNIST); the last cell's printed text."""
    (folder / "data").symlink_to(default_root().resolve(), target_is_directory=True)
    done = nbformat.reads(notebook, as_version=4)
    NotebookClient(done, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    plots = [o for cell in done.cells for o in cell.get("outputs", []) if o.output_type == "execute_result"]
    assert plots and "vega-lite" in plots[-1].data["text/html"]  # the loss curve, as a Vega-Lite chart
    return "".join(o.text for o in done.cells[-1].outputs if o.output_type == "stream")


@pytest.mark.parametrize("config", [
    TrainConfig(epochs=1, train_subset=1000, optimizer="adam", lr=0.003, device="cpu"),
    replace(CNN, epochs=1, train_subset=1000, device="cpu"),
], ids=["mlp", "cnn"])
def test_the_notebook_reaches_the_runs_accuracy_on_real_mnist(config, mnist, runs_dir, tmp_path):
    run = RunStore().load(train_and_save(config, mnist))
    printed = execute(run.reproduce_notebook(), tmp_path)
    summary = json.loads(printed.strip().splitlines()[-1])
    assert [e["epoch"] for e in summary["epochs"]] == [1]
    assert abs(summary["test_accuracy"] - run.record["test_accuracy"]) < 0.1
