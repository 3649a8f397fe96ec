"""A training job's state in words for students: progress line, queue place and how it ended."""

from __future__ import annotations

import math

from core.engine.status import Status
from core.engine.words import format_seconds, plural
from core.lab.executors.base import Capacity, WarmingUp
from core.lab.job import JobSnapshot


def progress_text(snap: JobSnapshot) -> str:
    """ "Epoch 2 of 4 · step 470 of 940 · 45,000 samples/s · about 3 s left" (what is known so far)."""
    parts = [f"Epoch {max(snap.epoch, 1)} of {snap.epochs}", f"step {snap.step:,} of {snap.total_steps:,}"]
    if snap.status == Status.PAUSED:
        parts.append("paused")
    if snap.samples_per_second:
        parts.append(f"{snap.samples_per_second:,.0f} samples/s")
    if snap.eta_seconds is not None:
        parts.append(f"about {format_seconds(snap.eta_seconds)} left")
    return " · ".join(parts)


def queue_text(snap: JobSnapshot, training_now: int) -> str:
    """Where a queued job stands."""
    position = snap.queue_position or 1
    ahead = "next in line" if position == 1 else f"number {position} in the queue"
    others = f"{plural(training_now, 'run')} training now"
    return f"Waiting for a free trainer: {ahead} ({others}). It starts by itself."


def end_text(snap: JobSnapshot) -> str:
    """How the run ended, as one sentence."""
    message = snap.message[:1].upper() + snap.message[1:]
    if snap.status == Status.FINISHED and snap.test_accuracy is not None:
        return (f"Finished: test accuracy {snap.test_accuracy:.2f} % after "
                f"{plural(snap.epochs, 'epoch')} ({format_seconds(snap.train_seconds)} of training).")
    if snap.status == Status.STOPPED and snap.step:
        accuracy = f" Test accuracy of what it learned so far: {snap.test_accuracy:.2f} %." if (
            snap.test_accuracy is not None) else ""
        return f"Stopped at epoch {max(snap.epoch, 1)} of {snap.epochs} (step {snap.step:,}).{accuracy}"
    if snap.status == Status.DIVERGED:
        return f"Diverged: {snap.message}."
    if snap.status in (Status.STOPPED, Status.FAILED):
        return message if message.endswith(".") else message + "."
    if snap.status == Status.QUEUED:
        return "Waiting for its turn."
    return message


def capacity_text(capacity: Capacity, training: int, waiting: int, mine: int, max_waiting: int) -> str:
    """ "This lab trains 14 runs at once on 4 machines; now 12 training and 3 waiting, 1 of them yours." """
    if capacity.slots == 0:
        lab = "This lab is starting its trainers (the first run waits for them)"
    else:
        lab = f"This lab trains {plural(capacity.slots, 'run')} at once on {plural(capacity.machines, 'machine')}"
    return (f"{lab}; now {training} training and {waiting} waiting"
            + (f", {mine} of them yours (at most {max_waiting} may wait)." if mine else "."))


def warming_text(warming: WarmingUp) -> str:
    """ "Warming up the lab: loading MNIST (about 3 s left)…", from the warm-up's own step and estimate."""
    if warming.seconds_left < 0.5:
        left = "a moment more"
    else:
        seconds = math.ceil(warming.seconds_left)
        left = f"about {seconds} s left" if seconds < 60 else f"about {format_seconds(seconds)} left"
    return f"Warming up the lab: {warming.stage} ({left})…"
