"""The run doctor and the report card of one saved run, with a Try button per finding. Not a page."""

from __future__ import annotations

import streamlit as st

from core.views.doctor_view import finding_text, report_card_metrics, tried_config, try_label
from pages.ui.settings_state import set_settings

TRY_HELP = "Makes the settings this run's, with this change, and opens Train."


def doctor_panel(run, key: str) -> None:
    """The run's report card (when it finished) and the doctor's findings; `key` keeps widget keys apart."""
    card = run.report_card
    found = run.diagnosis()
    if card is None and not found:
        return
    st.markdown("**Report card and run doctor**" if card is not None else "**Run doctor**")
    if card is not None:
        for column, (label, value, explanation) in zip(st.columns(4), report_card_metrics(card), strict=True):
            column.metric(label, value, help=explanation)
    for number, finding in enumerate(found):
        st.markdown(finding_text(finding.code, finding.message))
        if finding.try_settings and st.button(try_label(finding.try_settings), key=f"{key}_try_{number}",
                                              icon=":material/science:", help=TRY_HELP):
            set_settings(tried_config(run.config, finding.try_settings))
            st.switch_page("pages/train.py")
