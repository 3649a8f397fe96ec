"""The Hyperparameters and Train pages through Streamlit's AppTest: widgets, presets, URL, shared settings,
training controls and history. MNIST is a small fake here; the jobs train it for real in threads.
"""

import json
import time

from core.engine.presets import LECTURE, QUICK
from core.lab.urlconfig import FIELDS, to_query
from pages.ui.settings_state import JOB_STATE, SWEEP_STATE
from tests.lab_helpers import wait_until

SMALL = {"epochs": "1", "train_subset": "300", "batch_size": "32"}  # a run of 10 steps


def manager():
    from pages.ui import services

    return services.lab()


def _by_key(at, name):
    """The widget of one TrainConfig field (the page keys them hp_<field>)."""
    for kind in ("select_slider", "slider", "radio", "text_input", "number_input", "checkbox", "selectbox"):
        for element in getattr(at, kind):
            if element.key == f"hp_{name}":
                return element
    raise KeyError(name)


def texts(at, kind):
    return [e.value for e in getattr(at, kind)]


# --- Hyperparameters ----------------------------------------------------------------------------------------
def test_every_setting_has_a_widget_that_teaches(lab):
    at = lab("pages/hyperparameters.py")
    for name in FIELDS:
        element = _by_key(at, name)
        assert element.help and len(element.help) > 30, name
    assert "too high" in _by_key(at, "lr").help.lower() and "too low" in _by_key(at, "lr").help.lower()
    assert "mean 0" in _by_key(at, "normalize").help


def test_the_quick_preset_is_the_default_and_is_in_the_url(lab):
    at = lab("pages/hyperparameters.py")
    assert at.query_params == to_query(QUICK)
    assert _by_key(at, "lr").value == 0.002 and _by_key(at, "hidden").value == "256, 128"
    assert any("Quick" in c.value for c in at.caption if c.value.startswith("Now:"))
    assert texts(at, "metric")[0] == "235,146"


def test_the_lecture_preset_sets_every_widget_and_the_url(lab):
    at = lab("pages/hyperparameters.py")
    at.button(key="preset_Lecture").click().run()
    assert not at.exception
    assert (_by_key(at, "lr").value, _by_key(at, "batch_size").value, _by_key(at, "epochs").value) == (0.01, 64, 3)
    assert (_by_key(at, "optimizer").value, _by_key(at, "hidden").value) == ("sgd", "128, 64")
    assert at.query_params == to_query(LECTURE)
    assert texts(at, "metric")[0] == "109,386"


def test_changing_a_widget_changes_the_settings_and_the_url(lab):
    at = lab("pages/hyperparameters.py")
    _by_key(at, "lr").set_value(0.1).run()
    _by_key(at, "hidden").input("none").run()
    assert at.query_params["lr"] == "0.1" and at.query_params["hidden"] == "none"
    assert texts(at, "metric")[0] == "7,850"  # a linear classifier
    assert any("your own settings" in c.value for c in at.caption)


def test_a_good_link_sets_up_the_page(lab):
    at = lab("pages/hyperparameters.py", lr="0.05", optimizer="momentum", hidden="64", train_subset="5000")
    assert not at.warning
    assert (_by_key(at, "lr").value, _by_key(at, "optimizer").value, _by_key(at, "hidden").value) == (
        0.05, "momentum", "64")
    assert _by_key(at, "train_subset").value == 5000
    assert at.query_params["lr"] == "0.05" and at.query_params["train_subset"] == "5000"


def test_a_bad_link_warns_and_falls_back_to_the_defaults(lab):
    at = lab("pages/hyperparameters.py", lr="abc", batch_size="-3", hidden="1,x", epochs="2", device="gpu")
    warnings = texts(at, "warning")
    assert len(warnings) == 4 and all("ignored" in w for w in warnings)
    assert (_by_key(at, "lr").value, _by_key(at, "batch_size").value, _by_key(at, "epochs").value) == (0.002, 256, 2)
    assert at.query_params["lr"] == "0.002" and "device" not in at.query_params  # the URL is repaired
    at.run()
    assert not at.warning  # told once


def test_a_repeated_key_in_a_link_takes_the_last_value_and_is_written_once(lab):
    at = lab("pages/hyperparameters.py", epochs=["2", "3"], lr=["0.05", "0.05"])
    assert (_by_key(at, "epochs").value, _by_key(at, "lr").value) == (3, 0.05)
    assert (at.query_params["epochs"], at.query_params["lr"]) == ("3", "0.05")


def test_bad_hidden_text_is_explained_and_the_last_valid_settings_stay(lab):
    at = lab("pages/hyperparameters.py")
    _by_key(at, "hidden").input("128, lots").run()
    assert not at.exception
    assert "whole numbers separated by commas" in texts(at, "error")[0]
    assert at.query_params["hidden"] == "256-128"


def test_the_settings_are_the_ones_the_train_page_uses(lab):
    at = lab("pages/hyperparameters.py")
    _by_key(at, "lr").set_value(0.03).run()
    at.switch_page("pages/train.py").run()
    assert not at.exception
    assert any("lr 0.03" in m for m in texts(at, "markdown"))
    assert at.query_params["lr"] == "0.03"
    at.switch_page("pages/hyperparameters.py").run()
    assert _by_key(at, "lr").value == 0.03  # and back again


def test_a_sweep_offers_no_more_values_than_one_browser_may_have_running_and_waiting(lab):
    at = lab("pages/hyperparameters.py")
    values = at.multiselect(key="sw_values_lr")
    assert values.proto.max_selections == 4 and "(2 to 4)" in values.label  # 1 training + 3 waiting


def test_a_sweep_needs_two_values(lab):
    at = lab("pages/hyperparameters.py")
    at.multiselect(key="sw_values_lr").set_value([0.01]).run()
    assert at.button(key="sw_start").disabled


def test_a_sweep_trains_and_use_best_applies_the_winner(lab):
    at = lab("pages/hyperparameters.py")
    at.multiselect(key="sw_values_lr").set_value([0.0001, 0.3]).run()
    at.select_slider(key="sw_subset").set_value(2000).run()
    at.button(key="sw_start").click().run()
    assert not at.exception and "sweep" in at.query_params
    sweep = manager().get_sweep(at.query_params["sweep"])
    for job_id in sweep.job_ids:
        assert manager().wait(job_id, timeout=60).status in ("finished", "diverged")
    at.run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 1
    said = " ".join(m.value for m in at.markdown)
    assert "0.0001: the loss" in said and "0.3: the loss" in said  # the sweep's curves in words, one per value
    best_button = next(b for b in at.button if b.key == "sw_use_best")
    winner = float(best_button.label.split()[-1].rstrip(")"))
    best_button.click().run()
    assert _by_key(at, "lr").value == winner and at.query_params["lr"] == repr(winner)


def test_a_sweep_click_while_the_pages_sweep_is_live_queues_no_second_sweep(lab):
    at = lab("pages/hyperparameters.py")
    at.multiselect(key="sw_values_lr").set_value([0.0001, 0.3]).run()  # drawn with Run sweep enabled
    live = manager().submit_sweep(QUICK.__class__(batch_size=1), "lr", [0.01, 0.1], "someone else", epochs=1)
    at.session_state[SWEEP_STATE] = live.id  # the page's sweep went live after it was drawn (a stale page)
    at.button(key="sw_start").click().run()
    assert not at.exception and at.query_params["sweep"] == live.id
    assert sorted(snap.id for snap, _ in manager().live_snapshots()) == sorted(live.job_ids)
    for job_id in live.job_ids:
        manager().stop(job_id, "someone else")


# --- Train ----------------------------------------------------------------------------------------------------
def test_train_runs_in_the_background_and_the_page_tells_how_it_ended(lab):
    at = lab("pages/train.py", **SMALL)
    began = time.perf_counter()
    at.button(key="train_start").click().run()
    assert time.perf_counter() - began < 5  # the page does not wait for the run
    assert not at.exception and "job" in at.query_params
    assert manager().wait(at.query_params["job"], timeout=60).status == "finished"
    at.run()
    assert any(s.startswith("Finished: test accuracy") for s in texts(at, "success"))
    figures = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    # Loss per step, per epoch, then the gradient flow: gradient norm, update ratio, dead ReLUs.
    assert len(figures) == 5
    assert [trace["name"] for trace in figures[2]["data"]] == ["hidden 1", "hidden 2", "output"]
    assert [trace["name"] for trace in figures[4]["data"]] == ["hidden 1", "hidden 2"]  # no ReLU after output
    # Each gradient-flow chart in words, from the run's last measurement: its alt and its visible sentence.
    charts = at.get("plotly_chart")
    assert charts[2].proto.alt.startswith("Line chart of the gradient norm per layer (hidden 1, hidden 2 and output)")
    said = [m.value for m in at.markdown]
    assert sum(s.startswith("At step ") and "the gradient norm is largest in" in s for s in said) == 1
    assert sum(s.startswith("At step ") and "the share of dead ReLUs is" in s for s in said) == 1
    assert any("dead" in caption.value and "vanishing" in caption.value.lower() for caption in at.caption)
    history = next(t.value for t in at.table if "settings" in t.value.columns)
    assert list(history["status"]) == ["finished"]


def test_pause_resume_and_stop_buttons_reach_the_run(lab):
    at = lab("pages/train.py", epochs="1", batch_size="1")
    at.button(key="train_start").click().run()
    job_id = at.query_params["job"]
    at.button(key="job_pause").click().run()
    assert manager().get(job_id).status == "paused"
    at.button(key="job_resume").click().run()
    assert manager().get(job_id).status == "running"
    at.button(key="job_stop").click().run()
    assert manager().wait(job_id, timeout=5).status == "stopped"
    at.run()
    assert any(w.startswith("Stopped at epoch 1 of 1") for w in texts(at, "warning"))


def test_the_owner_changes_the_learning_rate_live_and_the_loss_chart_marks_it(lab):
    at = lab("pages/train.py", epochs="1", batch_size="1")
    at.button(key="train_start").click().run()
    job_id = at.query_params["job"]
    at.button(key="job_pause").click().run()  # held, so the change lands while it trains
    at.number_input(key="job_new_lr").set_value(0.05).run()
    at.button(key="job_apply_lr").click().run()
    assert not at.exception
    assert any(s.startswith("Learning rate 0.05 from the next step") for s in texts(at, "success"))
    at.button(key="job_resume").click().run()
    wait_until(lambda: manager().get(job_id).lr_changes, 5, "the new rate's first step", every=0.05)
    ((step, lr),) = manager().get(job_id).lr_changes
    at.run()
    loss = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert lr == 0.05 and [shape["x0"] for shape in loss["layout"]["shapes"]] == [step + 1]
    assert loss["layout"]["annotations"][0]["text"] == "lr 0.05"
    at.button(key="job_stop").click().run()
    manager().wait(job_id, timeout=5)


def test_a_tracker_this_server_lacks_is_named_and_nothing_can_be_queued(lab):
    at = lab("pages/train.py", log_with="wandb")  # wandb is not installed with the lab
    assert any("pip install wandb" in w for w in texts(at, "warning"))
    assert at.button(key="train_start").disabled


def test_a_refresh_finds_the_run_again_from_the_url(lab):
    at = lab("pages/train.py", **SMALL)
    at.button(key="train_start").click().run()
    job_id = at.query_params["job"]
    manager().wait(job_id, timeout=60)
    again = lab("pages/train.py", job=job_id)  # a new session: what a browser refresh makes
    assert again.query_params["job"] == job_id
    assert any(s.startswith("Finished") for s in texts(again, "success"))
    again.switch_page("pages/hyperparameters.py").run()
    assert again.query_params["job"] == job_id  # so a refresh there finds it too


def test_an_unknown_run_in_the_url_is_told_not_raised(lab):
    at = lab("pages/train.py", job="no-such-run")
    assert any("no longer live" in i for i in texts(at, "info"))
    assert "job" not in at.query_params


def test_a_second_student_waits_in_the_queue_with_a_position(lab):
    at = lab("pages/train.py", **SMALL)
    blocker = manager().submit(QUICK.__class__(epochs=1, batch_size=1), owner="someone else")
    at.button(key="train_start").click().run()
    assert any("next in line" in i for i in texts(at, "info"))
    assert any("1 training and 1 waiting, 1 of them yours (at most 3 may wait)" in c for c in texts(at, "caption"))
    manager().stop(blocker.id, "someone else")
    assert manager().wait(at.query_params["job"], timeout=60).status == "finished"
    assert manager().get(blocker.id).status == "stopped"


def test_a_train_click_while_the_pages_run_is_live_queues_no_second_run(lab):
    at = lab("pages/train.py", **SMALL)  # drawn with Train enabled: no run yet
    blocker = manager().submit(QUICK.__class__(epochs=1, batch_size=1), owner="someone else")
    at.session_state[JOB_STATE] = blocker.id  # the page's run went live after it was drawn (a stale page)
    at.button(key="train_start").click().run()
    assert not at.exception and at.query_params["job"] == blocker.id
    assert [snap.id for snap, _ in manager().live_snapshots()] == [blocker.id]
    manager().stop(blocker.id, "someone else")


def test_a_shared_link_shows_the_run_live_but_gives_no_controls(lab):
    owner = lab("pages/train.py", epochs="1", batch_size="1")
    owner.button(key="train_start").click().run()
    job_id = owner.query_params["job"]
    watcher = lab("pages/train.py", job=job_id)  # another browser opens the owner's link
    assert watcher.query_params["job"] == job_id and len(watcher.get("progress")) == 1
    assert not {"job_pause", "job_stop", "job_resume", "job_cancel", "job_apply_lr"} & {b.key for b in watcher.button}
    assert not watcher.number_input  # nor the learning-rate box
    assert any("only that browser can pause or stop it" in c for c in texts(watcher, "caption"))
    assert manager().get(job_id).status == "running"
    owner.button(key="job_stop").click().run()  # the owner's controls still work
    assert manager().wait(job_id, timeout=5).status == "stopped"


def test_a_run_over_the_budget_is_refused_in_words_and_nothing_is_queued(lab):
    at = lab("pages/train.py", epochs="100", batch_size="8192", hidden="-".join(["1024"] * 16))
    assert any("one run may take at most 10 min" in w for w in texts(at, "warning"))  # said before the click
    at.button(key="train_start").click().run()
    assert not at.exception and "job" not in at.query_params
    (error,) = texts(at, "error")
    assert "one run may take at most 10 min" in error and "fewer epochs" in error
    assert manager().waiting == manager().training == 0


def test_the_history_overlays_runs_and_offers_downloads(lab):
    at = lab("pages/train.py", **SMALL)
    run_ids = []
    for _ in range(2):
        at.button(key="train_start").click().run()
        run_ids.append(manager().wait(at.query_params["job"], timeout=60).run_id)
        at.run()
    ids = run_ids[::-1]  # newest first
    at.multiselect(key="history_compare").set_value(ids).run()
    assert not at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == 6  # live loss, live epochs, three of gradient flow, the overlay
    assert charts[-1].proto.alt.startswith("Line chart of the training loss against the step, 2 runs.")
    assert at.selectbox(key="history_run").value == ids[0]
    assert {b.proto.label for b in at.get("download_button")} == {"Metrics (CSV)", "Weights (.pt)", "Script (.py)",
                                                              "Notebook (.ipynb)"}
