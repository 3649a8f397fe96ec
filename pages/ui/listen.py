"""The "Listen" button beside a loss chart: the curve as sound (core.views.loss_sound), made when pressed."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from core.engine.curves import Curve
from core.lab.estimate import steps_per_epoch
from core.views.loss_sound import loss_sound

SOUNDS = "lab_sounds"  # session: button key -> (what the sound was made for, LossSound)
LISTEN_HELP = ("Plays the loss curve as sound, a few seconds long: the higher the note, the higher the loss, "
               "and a short tick at the start of each new epoch.")


def listen(lines: Sequence[tuple[str, Curve, int]], *, key: str, made_for: object) -> None:
    """A Listen button; pressed, it makes the sound of `lines` ((name, curve, steps per epoch)) and plays it.

    The sound is kept while `made_for` (a run, the runs chosen) stays the same, so a live run's refresh every
    second redraws the same player without making the sound again; a page entered afresh starts without it, so
    it never plays unasked.
    """
    sounds = st.session_state.setdefault(SOUNDS, {})
    if key not in st.session_state:  # the button was not drawn on the last run of the page: the page is new
        sounds.pop(key, None)
    if st.button("Listen", key=key, icon=":material/volume_up:", help=LISTEN_HELP):
        sounds[key] = (made_for, loss_sound(lines))
    kept = sounds.get(key)
    if kept is None or kept[0] != made_for:
        return
    sound = kept[1]
    st.audio(sound.wav, format="audio/wav", autoplay=True, alt=sound.words.alt)
    st.markdown(sound.words.summary)


def epoch_steps(run) -> int:
    """A saved run's steps per epoch, where its ticks go (0, no ticks, when its settings are damaged)."""
    try:
        return steps_per_epoch(run.config)
    except ValueError:
        return 0
