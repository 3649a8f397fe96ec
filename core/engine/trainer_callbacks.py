"""The Trainer's own callbacks, in the training process: gradient flow, the trackers, the report card.

They listen through the same hooks as every other listener; the ones that measure (gradient flow, the report
card) report what they measured as events of their own, through trainer.call.
"""

from __future__ import annotations

from core.engine.events import Callback, LayerStatsEvent, LoopState, StepEvent
from core.engine.gradient_flow import GradientFlow
from core.engine.report_card import measure_report_card
from core.engine.tracking import TrackerLog, finish_trackers, start_trackers


class GradientFlowCallback(Callback):
    """Measures the layers every few steps (core.engine.gradient_flow) and reports LayerStatsEvents."""

    def __init__(self):
        self.flow: GradientFlow | None = None
        self.trainer = None

    def setup(self, trainer) -> None:
        self.trainer = trainer
        state = trainer.state
        self.flow = GradientFlow(trainer.accelerator.unwrap_model(state.model), state.steps_per_epoch)

    def on_before_forward(self, state: LoopState) -> None:
        self.flow.before_forward(state.step + 1)

    def on_before_update(self, state: LoopState) -> None:
        self.flow.before_update(state.step + 1)

    def on_step(self, event: StepEvent) -> None:
        layers = self.flow.after_update(event.step)
        if layers is not None:
            self.trainer.call("on_layer_stats", LayerStatsEvent(event.step, event.epoch, layers))

    def epoch_means(self) -> list[dict]:
        """The layers' means over the epoch that just ended (what its EpochEvent carries)."""
        return self.flow.epoch_means()

    def teardown(self, state: LoopState) -> None:
        if self.flow is not None:
            self.flow.close()


class TrackerCallback(Callback):
    """Starts the Accelerator's trackers (config.log_with) and sends them the run as it goes (TrackerLog)."""

    def __init__(self):
        self.log: TrackerLog | None = None
        self.accelerator = None
        self.state: LoopState | None = None
        self._layers: list[dict] | None = None

    def setup(self, trainer) -> None:
        self.accelerator, self.state = trainer.accelerator, trainer.state
        run_name = trainer.run_folder.name if trainer.run_folder is not None else None
        start_trackers(self.accelerator, trainer.config, run_name)
        self.log = TrackerLog(self.accelerator)

    def on_layer_stats(self, event: LayerStatsEvent) -> None:
        self._layers = event.layers  # sent with its step, which this callback hears next

    def on_step(self, event: StepEvent) -> None:
        self.log.step(event.step, event.loss, self.state.lr, self._layers)
        self._layers = None

    def on_epoch(self, event) -> None:
        self.log.epoch(event, self.state.step)

    def teardown(self, state: LoopState) -> None:
        if self.log is not None:
            self.log.write(state.step)  # what the last steps gathered
            finish_trackers(self.accelerator)


class ReportCardCallback(Callback):
    """Measures the report card of a finished run in the process that trained it, and reports it."""

    def __init__(self):
        self.trainer = None

    def setup(self, trainer) -> None:
        self.trainer = trainer

    def on_finished(self, state: LoopState) -> None:
        trainer = self.trainer
        model = trainer.accelerator.unwrap_model(state.model)
        card = measure_report_card(model, trainer.train_images, trainer.test_images, state.evaluation.accuracy,
                                   state.evaluation.loss, trainer.accelerator.device)
        state.result.report_card = card
        trainer.call("on_report_card", card)
