"""The loss curve as sound (core.views.loss_sound), read back as a listener's ear would: the pitch of each short
stretch (an FFT's peak), where the ticks fall, where it is silent; and the Listen button on the Train page."""

import io
import math
import wave

import numpy as np
import pytest

from core.engine.curves import Curve, loss_curve
from core.engine.run_store import RunStore
from core.views import loss_sound as sound_module
from core.views.loss_sound import HIGH_HZ, LOW_HZ, RATE, SECONDS, TICK_HZ, epoch_starts, loss_sound, pitch_scale

WINDOW_S = 0.1  # the stretch whose pitch is measured


def samples_of(wav: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(wav)) as read:
        assert (read.getnchannels(), read.getsampwidth(), read.getframerate()) == (1, 2, RATE)
        return np.frombuffer(read.readframes(read.getnframes()), dtype="<i2") / 32767


def pitch_at(samples: np.ndarray, t: float) -> float:
    """The strongest frequency (Hz) between 150 and 1,200 Hz in the WINDOW_S around t."""
    half = round(WINDOW_S * RATE / 2)
    middle = round(t * RATE)
    window = samples[middle - half:middle + half] * np.hanning(2 * half)
    spectrum = np.abs(np.fft.rfft(window, n=16 * RATE))  # padded: 1/16 Hz bins
    hz = np.fft.rfftfreq(16 * RATE, 1 / RATE)
    band = (hz > 150) & (hz < 1200)
    return float(hz[band][spectrum[band].argmax()])


def band_energy(samples: np.ndarray, frame: int) -> np.ndarray:
    """Per frame of `frame` samples: the energy within 400 Hz of TICK_HZ (the tone stays below 900 Hz)."""
    frames = samples[: len(samples) // frame * frame].reshape(-1, frame)
    near = np.abs(np.fft.rfftfreq(frame, 1 / RATE) - TICK_HZ) < 400
    return (np.abs(np.fft.rfft(frames * np.hanning(frame), axis=1))[:, near] ** 2).sum(axis=1)


def tick_times(samples: np.ndarray) -> list[float]:
    """Where the epoch ticks sound: 5 ms frames with a tenth of a lone tick's energy near TICK_HZ, runs merged."""
    frame = RATE // 200
    t = np.arange(frame) / RATE
    lone = sound_module.TICK_LEVEL * np.sin(2 * np.pi * TICK_HZ * t) * np.exp(-t / sound_module.TICK_DECAY_S)
    loud = np.flatnonzero(band_energy(samples, frame) > 0.1 * band_energy(lone, frame)[0])
    starts = [i for k, i in enumerate(loud) if k == 0 or i - loud[k - 1] > 4]
    return [i * frame / RATE for i in starts]


def down_then_up(steps: int = 1200) -> list[float]:
    """A loss that falls from 2.3 to 0.1 over the first two thirds, then climbs back to 0.8."""
    fall = np.geomspace(2.3, 0.1, steps * 2 // 3)
    rise = np.geomspace(0.1, 0.8, steps - len(fall))
    return list(np.concatenate([fall, rise]))


def test_a_valid_16_bit_mono_wav_of_about_four_seconds():
    sound = loss_sound([("run", loss_curve(down_then_up()), 400)])
    samples = samples_of(sound.wav)
    assert sound.wav[:4] == b"RIFF" and sound.wav[8:12] == b"WAVE"
    assert len(samples) == round(SECONDS * RATE) and sound.seconds == pytest.approx(SECONDS)
    assert 0.2 < np.abs(samples).max() <= 1.0  # loud enough, never clipped


def test_the_pitch_falls_where_the_loss_falls_and_rises_where_it_rises():
    curve = loss_curve(down_then_up())
    samples = samples_of(loss_sound([("run", curve, 0)]).wav)
    to_hz = pitch_scale(curve.smooth)
    times = np.arange(0.2, SECONDS - 0.15, 0.2)
    heard = np.array([pitch_at(samples, t) for t in times])
    steps = np.asarray(curve.steps, dtype=float)
    at_step = steps[0] + (steps[-1] - steps[0]) * times / SECONDS
    expected = to_hz(np.interp(at_step, steps, curve.smooth))
    assert heard == pytest.approx(expected, rel=0.03)  # within half a semitone
    lowest = times[heard.argmin()]
    assert np.all(np.diff(heard[times < lowest - 0.2]) < 0) and np.all(np.diff(heard[times > lowest + 0.2]) > 0)
    assert lowest == pytest.approx(SECONDS * 2 / 3, abs=0.25)  # where the loss was lowest
    assert to_hz(np.array([max(curve.smooth), min(curve.smooth)])) == pytest.approx([HIGH_HZ, LOW_HZ])


def test_a_tick_at_the_start_of_each_new_epoch():
    curve = loss_curve(down_then_up(1200))  # 3 epochs of 400 steps: epochs 2 and 3 start at steps 401 and 801
    assert epoch_starts(curve, 400) == [401, 801]
    heard = tick_times(samples_of(loss_sound([("run", curve, 400)]).wav))
    expected = [(step - 1) / (1200 - 1) * SECONDS for step in (401, 801)]
    assert heard == pytest.approx(expected, abs=0.01)
    assert tick_times(samples_of(loss_sound([("run", curve, 0)]).wav)) == []  # no epochs known: no ticks


def test_silence_where_the_loss_is_not_a_number():
    losses = list(np.geomspace(2.3, 5.0, 800)) + [math.nan] * 400  # diverged at step 801
    sound = loss_sound([("run", loss_curve(losses), 0)])
    samples = samples_of(sound.wav)
    assert np.sqrt(np.mean(samples[round(2.8 * RATE):] ** 2)) < 1e-4
    assert np.sqrt(np.mean(samples[: round(2.5 * RATE)] ** 2)) > 0.1
    assert pitch_at(samples, 0.2) < pitch_at(samples, 2.4)  # the loss rose before it broke: so did the pitch
    assert "the pitch rises" in sound.words.alt and "then silence from step" in sound.words.alt


def test_a_flat_loss_stays_on_one_note_in_the_middle():
    curve = Curve(steps=tuple(range(1, 101)), raw=(1.0,) * 100, smooth=(1.0,) * 100)
    samples = samples_of(loss_sound([("run", curve, 0)]).wav)
    middle = math.sqrt(LOW_HZ * HIGH_HZ)  # 440 Hz: a range under MIN_SPAN is centred
    assert [pitch_at(samples, t) for t in (0.5, 2.0, 3.5)] == pytest.approx([middle] * 3, rel=0.01)


def test_several_runs_play_in_turn_on_one_pitch_scale():
    high, low = loss_curve([2.0] * 100), loss_curve([0.5] * 100)
    sound = loss_sound([("A", high, 0), ("B", low, 0)])
    samples = samples_of(sound.wav)
    each, gap = sound_module.SECONDS_EACH, sound_module.GAP_SECONDS
    assert sound.seconds == pytest.approx(2 * each + gap)
    assert pitch_at(samples, each / 2) == pytest.approx(HIGH_HZ, rel=0.01)  # the higher loss, the higher note
    assert pitch_at(samples, each + gap + each / 2) == pytest.approx(LOW_HZ, rel=0.01)
    assert sound.words.alt.startswith("The loss curves of 2 runs as sound, one after another")
    assert "A: the pitch stays level" in sound.words.alt


def test_the_words_say_how_to_listen_and_what_the_sound_shows():
    sound = loss_sound([("run", loss_curve(down_then_up(1200)), 400)])
    assert sound.words.alt.startswith("The loss curve as sound, 4 seconds: the pitch falls as the loss goes from")
    assert sound.words.alt.endswith("ticks mark the start of epochs 2 and 3.")
    assert sound.words.summary.startswith("The higher the note, the higher the loss")
    with pytest.raises(ValueError, match="no loss curve"):
        loss_sound([])


# --- the Listen button on the Train page ------------------------------------------------------------------------
SMALL = {"epochs": "2", "train_subset": "300", "batch_size": "32"}  # two epochs of 10 steps


def audio(at):
    return [element.proto for element in at.get("audio")]


def test_listen_plays_the_live_curve_and_a_refresh_keeps_the_player_without_making_it_again(lab, monkeypatch):
    import pages.ui.listen

    made = []
    monkeypatch.setattr(pages.ui.listen, "loss_sound", lambda lines: made.append(lines) or loss_sound(lines))
    at = lab("pages/train.py", **SMALL)
    at.button(key="train_start").click().run()
    from pages.ui import services

    assert services.lab().wait(at.query_params["job"], timeout=60).status == "finished"
    at.run()
    assert audio(at) == []  # nothing plays unasked
    at.button(key="live_listen").click().run()
    assert not at.exception
    (player,) = audio(at)
    assert player.alt.startswith("The loss curve as sound") and player.autoplay
    assert "a tick marks the start of epoch 2" in player.alt  # 10 steps per epoch
    assert any(m.value.startswith("The higher the note, the higher the loss") for m in at.markdown)
    (lines,) = made
    assert lines[0][2] == 10
    at.run()  # a refresh: the same player, the sound not made again
    assert [p.url for p in audio(at)] == [player.url] and len(made) == 1
    at.switch_page("pages/mistakes.py").run()
    at.switch_page("pages/train.py").run()
    assert audio(at) == []  # back on the page: it does not play again by itself


def test_the_history_listens_to_the_runs_chosen_for_its_chart(lab, runs_dir):
    at = lab("pages/train.py", **SMALL)
    at.button(key="train_start").click().run()
    from pages.ui import services

    services.lab().wait(at.query_params["job"], timeout=60)
    at.run()
    (run,) = RunStore(runs_dir).list()
    at.multiselect(key="history_compare").set_value([run.id]).run()
    at.button(key="history_listen").click().run()
    assert not at.exception
    (player,) = audio(at)
    assert player.alt.startswith("The loss curve as sound") and "epoch 2" in player.alt
    at.multiselect(key="history_compare").set_value([]).run()
    assert audio(at) == []  # made for other runs: gone with them
