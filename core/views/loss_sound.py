"""The loss curve as sound: for students who cannot see the chart, and for anyone who would rather listen.

The pitch follows the smoothed loss, high loss a high note: the logarithm of the loss maps linearly onto
LOW_HZ-HIGH_HZ (two octaves), so equal ratios of loss sound as equal musical steps, as on the chart's log axis.
A short, higher tick marks the start of each new epoch; where the loss is not a number (a diverged run) there is
silence, as there is a gap in the chart. numpy makes the samples; the standard library's wave writes a 16-bit
mono WAV that st.audio plays. No Streamlit here.
"""

from __future__ import annotations

import io
import math
import wave
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.engine.curves import Curve
from core.views.chart_words import ChartWords, joined, number, trend

RATE = 16_000  # samples per second: far above the tick's 2 kHz, and a 4-second WAV stays near 130 kB
LOW_HZ, HIGH_HZ = 220.0, 880.0  # the lowest and the highest loss: A3 to A5
MIN_SPAN = 4.0  # a loss that varies by less than this factor fills only its share of the two octaves
SECONDS = 4.0  # one curve
SECONDS_EACH = 3.0  # each curve when several play one after another
GAP_SECONDS = 0.5  # the silence between two curves
TICK_HZ, TICK_SECONDS, TICK_DECAY_S = 2_000.0, 0.03, 0.006
TONE_LEVEL, TICK_LEVEL = 0.4, 0.5
FADE_SECONDS = 0.01  # ramps in and out of each sound and silence, so nothing clicks but the ticks
PITCH_WORDS = {"fell": "the pitch falls", "rose": "the pitch rises", "stayed about the same": "the pitch stays level"}


@dataclass(frozen=True)
class LossSound:
    """A WAV file's bytes, its length, and its words: alt for the player, summary to show beside it."""

    wav: bytes
    seconds: float
    words: ChartWords


def loss_sound(lines: Sequence[tuple[str, Curve, int]]) -> LossSound:
    """The curves ((name, curve, steps per epoch; 0 for no ticks)) as one sound, one curve after another, on one
    shared pitch scale, so that a higher note means a higher loss in every run."""
    if not lines:
        raise ValueError("there is no loss curve to play")
    seconds = SECONDS if len(lines) == 1 else SECONDS_EACH
    to_hz = pitch_scale([v for _, curve, _ in lines for v in curve.smooth])
    gap = np.zeros(round(GAP_SECONDS * RATE))
    parts = []
    for i, (_, curve, per_epoch) in enumerate(lines):
        parts += [gap] if i else []
        parts.append(_curve_samples(curve, per_epoch, seconds, to_hz))
    samples = np.concatenate(parts)
    total = len(samples) / RATE
    return LossSound(wav_bytes(samples), total, sound_words(lines, seconds, total))


def pitch_scale(losses: Sequence[float]):
    """A function from losses to frequencies (Hz): the lowest finite loss LOW_HZ, the highest HIGH_HZ, linear in
    log(loss); a range under MIN_SPAN is centred in the two octaves instead of stretched over them."""
    finite = [v for v in losses if math.isfinite(v) and v > 0]
    low, high = (math.log(min(finite)), math.log(max(finite))) if finite else (0.0, 0.0)
    if high - low < math.log(MIN_SPAN):
        middle = (low + high) / 2
        low, high = middle - math.log(MIN_SPAN) / 2, middle + math.log(MIN_SPAN) / 2

    def to_hz(values: np.ndarray) -> np.ndarray:
        share = (np.log(np.maximum(values, 1e-300)) - low) / (high - low)
        return LOW_HZ * (HIGH_HZ / LOW_HZ) ** np.clip(share, 0.0, 1.0)

    return to_hz


def epoch_starts(curve: Curve, per_epoch: int) -> list[int]:
    """The steps where a new epoch starts, within the curve's span (the first epoch's start excluded)."""
    if per_epoch <= 0 or not len(curve):
        return []
    first, last = curve.steps[0], curve.steps[-1]
    return [k * per_epoch + 1 for k in range(1, math.ceil(last / per_epoch) + 1) if first < k * per_epoch + 1 <= last]


def _curve_samples(curve: Curve, per_epoch: int, seconds: float, to_hz) -> np.ndarray:
    n = round(seconds * RATE)
    steps = np.asarray(curve.steps, dtype=float)
    losses = np.asarray(curve.smooth, dtype=float)
    finite = np.isfinite(losses)
    span = steps[-1] - steps[0] if len(steps) > 1 else 1.0
    at = steps[0] + span * np.arange(n) / n  # the step each sample stands for
    hz = to_hz(np.interp(at, steps[finite], losses[finite])) if finite.any() else np.full(n, LOW_HZ)
    voiced = np.interp(at, steps, finite.astype(float)) >= 0.5  # silent nearest a point that is not a number
    fade = max(1, round(FADE_SECONDS * RATE))
    envelope = np.convolve(voiced.astype(float), np.ones(fade) / fade, mode="same")
    envelope *= np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / fade)  # in and out of the sound
    samples = TONE_LEVEL * envelope * np.sin(2 * np.pi * np.cumsum(hz) / RATE)
    tick_t = np.arange(round(TICK_SECONDS * RATE)) / RATE
    tick = TICK_LEVEL * np.sin(2 * np.pi * TICK_HZ * tick_t) * np.exp(-tick_t / TICK_DECAY_S)
    for step in epoch_starts(curve, per_epoch):
        start = min(n - len(tick), round((step - steps[0]) / span * n))
        samples[start:start + len(tick)] += tick
    return samples


def wav_bytes(samples: np.ndarray, rate: int = RATE) -> bytes:
    """Samples in -1..1 as a 16-bit mono WAV file."""
    pcm = np.rint(np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def _line_words(curve: Curve, per_epoch: int) -> str:
    finite = [v for v in curve.smooth if math.isfinite(v)]
    if not finite:
        return "silence: the loss was never a number"
    first, last = finite[0], finite[-1]
    pitch = PITCH_WORDS.get(trend(first, last), "the pitch moves")
    words = f"{pitch} as the loss goes from {number(first)} to {number(last)}"
    broken = next((i for i, v in enumerate(curve.smooth) if not math.isfinite(v)), None)
    if broken is not None:
        words += f", then silence from step {int(curve.steps[broken]):,} on, where the loss is not a number"
    epochs = [str((step - 1) // per_epoch + 1) for step in epoch_starts(curve, per_epoch)]
    if len(epochs) == 1:
        words += f"; a tick marks the start of epoch {epochs[0]}"
    elif epochs:
        words += f"; ticks mark the start of epochs {joined(epochs)}"
    return words


def sound_words(lines: Sequence[tuple[str, Curve, int]], seconds: float, total: float) -> ChartWords:
    """What the sound plays, in words: alt for the player, and the visible sentence that says how to listen."""
    how = ("The higher the note, the higher the loss; a short tick marks the start of each new epoch. "
           "The player's buttons play it again; Listen makes it anew from the curve as it is then.")
    if len(lines) == 1:
        what = _line_words(lines[0][1], lines[0][2])
        alt = f"The loss curve as sound, {seconds:g} seconds: {what}."
        return ChartWords(alt=alt, summary=f"{how} Here {what}.")
    parts = " ".join(f"{name}: {_line_words(curve, per_epoch)}." for name, curve, per_epoch in lines)
    alt = (f"The loss curves of {len(lines)} runs as sound, one after another, {seconds:g} seconds each "
           f"({total:.0f} seconds in all), on one pitch scale. {parts}")
    return ChartWords(alt=alt, summary=f"{how} The runs play one after another, in the order chosen.")
