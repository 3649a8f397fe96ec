"""The chosen hyperparameters, shared by the Hyperparameters and Train pages and kept in the URL.

The session holds one TrainConfig. The URL mirrors it, so a link reproduces the setup; a URL that arrives
with other settings (a shared setup, a refresh) wins once, shown in the page's controls before anything
trains, and any bad value in it is reported and replaced by the default. A link to someone else's run
(job=, sweep=) is for watching: its settings are not adopted. Not a page: st.navigation does not list it.
"""

from __future__ import annotations

import streamlit as st

from core.engine.config import TrainConfig
from core.engine.presets import DEFAULT
from core.lab.urlconfig import FIELDS, config_params, from_query, to_query
from pages.ui.common import SHELL_RAN, owner_id, require_shell
from pages.ui.display_name import display_name, drop_link_name
from pages.ui.services import classroom, lab
from pages.ui.staff import unlocked

CONFIG = "lab_config"
PUBLISHED = "lab_config_url"  # the settings this session last wrote to the URL
PENDING = "lab_link_params"  # a deep link's parameters, kept while require_shell sends it through the shell
JOB, SWEEP = "job", "sweep"  # URL keys of the session's live run and sweep
JOB_STATE, SWEEP_STATE = "lab_job", "lab_sweep"  # and where the session keeps them


def enter_page(page: str) -> None:
    """require_shell, but a deep link's query parameters survive the detour through the shell."""
    if not st.session_state.get(SHELL_RAN):
        st.session_state[PENDING] = st.query_params.to_dict()
    require_shell(page)


def link_params() -> dict[str, str]:
    """The URL's query parameters (or those a deep link arrived with)."""
    pending = st.session_state.pop(PENDING, None)
    return pending if pending else st.query_params.to_dict()


def watches_another(params: dict[str, str]) -> bool:
    """True when the link names a run or sweep that is not this browser's own live one: a link to watch."""
    if not (params.get(JOB) or params.get(SWEEP)):
        return False
    manager, me = lab(), owner_id()
    named = [item for item in (manager.get(params.get(JOB)), manager.get_sweep(params.get(SWEEP)))
             if item is not None]
    return not named or any(item.owner != me for item in named)


def settings(params: dict[str, str] | None = None) -> TrainConfig:
    """The session's settings, after adopting new ones from the URL (with a warning per bad value) unless the
    link is for watching someone's run, with the class's locked settings applied. Nothing else is adopted, and
    nothing is written to the link: the page calls publish_settings next."""
    state = st.session_state
    params = params if params is not None else link_params()
    url = config_params(params)
    if url and url != state.get(PUBLISHED) and not watches_another(params):
        config, warnings = from_query(url)
        state[CONFIG] = config
        for warning in warnings:
            st.warning(warning, icon=":material/link_off:")
    return with_class_locks(state.setdefault(CONFIG, DEFAULT))


def publish_settings(config: TrainConfig) -> None:
    """The step after settings(): write them into the link (so the next run knows them for its own), drop a
    link's name=, and claim the display name this browser holds, for the Train page to sign its runs with."""
    publish(config)
    drop_link_name()
    display_name(owner_id())


def with_class_locks(config: TrainConfig) -> TrainConfig:
    """The settings with the instructor's locked values; says so when that changed the student's settings."""

    # A class experiment's value for a student too, handed out now; never to the instructor.
    locked = classroom().locked_config_for(owner_id(), config, join=not unlocked())
    if locked != config:
        st.session_state[CONFIG] = locked
        st.info("Your instructor has locked some settings for the class; your settings now use the locked "
                "values (the Hyperparameters page shows which).", icon=":material/lock:")
    return locked


def set_settings(config: TrainConfig) -> None:
    """Make `config` the session's settings (the URL follows on this run's publish)."""
    st.session_state[CONFIG] = config


def publish(config: TrainConfig) -> None:
    """Write the settings to the URL, touching only keys that change (each write updates the browser)."""
    params = to_query(config)
    for key in FIELDS:
        if key not in params and key in st.query_params:
            del st.query_params[key]
    for key, value in params.items():
        if st.query_params.get_all(key) != [value]:  # all values: a repeated key is written back once
            st.query_params[key] = value
    st.session_state[PUBLISHED] = params


def publish_id(key: str, value: str | None) -> None:
    """Put a job or sweep id in the URL (or take it out), so a refresh finds it again."""
    if value and st.query_params.get_all(key) != [value]:
        st.query_params[key] = value
    elif not value and key in st.query_params:
        del st.query_params[key]


def live_ids(params: dict[str, str], manager) -> tuple[str | None, str | None]:
    """The session's run and sweep ids, adopting those a URL brings (a refresh), kept in the URL too.

    Both pages call it, so a refresh of either one still finds the run and the sweep. An id the server no
    longer knows is dropped.
    """
    state = st.session_state
    if manager.get(params.get(JOB)) is not None:
        state[JOB_STATE] = params[JOB]
    if manager.get_sweep(params.get(SWEEP)) is not None:
        state[SWEEP_STATE] = params[SWEEP]
    job_id = state.get(JOB_STATE) if manager.get(state.get(JOB_STATE)) else None
    sweep_id = state.get(SWEEP_STATE) if manager.get_sweep(state.get(SWEEP_STATE)) else None
    publish_id(JOB, job_id)
    publish_id(SWEEP, sweep_id)
    return job_id, sweep_id
