"""core.engine.schema: each setting is described once, and the CLI, links, history and page derive from it."""

import re
from dataclasses import fields, replace

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.engine.cli_args import build_parser, config_from_args
from core.engine.config import SETTINGS, ConfigError, TrainConfig
from core.engine.kinds import Number
from core.engine.schema import KINDS, Cli
from core.lab.urlconfig import from_query, to_query
from core.views.history import setting_text, settings_text
from tests.lab_helpers import APP, REPO


def changed_value(described):
    """A value other than the default that the setting allows."""
    if described.kind.name == "bool":
        return not described.default
    if described.kind.name == "hidden":
        return (3, 4)
    if described.kind.name == "choice":
        return next(c for c in described.choices if c != described.default)
    return described.high if described.default != described.high else described.low


def flag_words(described, value) -> list[str]:
    """The command-line words that set `value`."""
    if described.kind.name == "bool" or described.cli.switch is not None:
        return [described.flag]
    if described.kind.name == "hidden":
        return [described.flag, *(str(n) for n in value)]
    return [described.flag, str(value)]


def test_every_field_of_trainconfig_is_described():
    assert list(SETTINGS) == [f.name for f in fields(TrainConfig)]
    for name, described in SETTINGS.items():
        assert described.kind.name in KINDS and described.label and len(described.help) > 30, name
        assert described.history and described.widget.kind, name
        assert described.default == getattr(TrainConfig(), name)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_every_setting_has_a_flag_that_sets_it(name):
    described = SETTINGS[name]
    value = changed_value(described)
    config = config_from_args(build_parser().parse_args(flag_words(described, value)))
    assert getattr(config, name) == value and config == replace(TrainConfig(), **{name: value})


def test_every_flag_has_help():
    actions = [a for a in build_parser()._actions if a.dest != "help"]
    assert all(a.help and len(a.help) > 10 for a in actions)
    assert {described.flag for described in SETTINGS.values()} <= {s for a in actions for s in a.option_strings}


@pytest.mark.parametrize("name", list(SETTINGS))
def test_every_setting_survives_a_link_and_is_named_in_the_history(name):
    described = SETTINGS[name]
    config = replace(TrainConfig(), **{name: changed_value(described)})
    query = to_query(config)
    assert described.url_key in query and from_query(query) == (config, [])
    assert setting_text(config, name, changed_value(described)) in settings_text(config)
    assert settings_text(config) != "the lecture's setup"


@pytest.mark.parametrize("name", [n for n, s in SETTINGS.items() if s.kind.name in ("float", "int", "subset")])
def test_trainconfig_allows_exactly_the_range_of_its_setting(name):
    described = SETTINGS[name]
    TrainConfig(**{name: described.low})
    TrainConfig(**{name: described.high})
    step = 1e-7 if described.kind.name == "float" else 1
    for outside in (described.low - step, described.high + max(step, described.high * 1e-6)):
        with pytest.raises(ConfigError, match=described.allowed):
            TrainConfig(**{name: type(described.low)(outside)})


def test_a_new_setting_in_the_schema_gets_its_flag():
    dropout = replace(SETTINGS["weight_decay"], name="dropout", label="Dropout", kind=Number(0.0, 0.9),
                      cli=Cli("share of hidden units dropped at each step (default {default})"))
    parser = build_parser({**SETTINGS, "dropout": dropout})
    assert parser.parse_args(["--dropout", "0.5"]).dropout == 0.5
    assert parser.parse_args([]).dropout == 0.0
    assert "--dropout" in parser.format_help() and "units dropped" in parser.format_help()


@pytest.fixture
def hyperparameters_page(runs_dir):
    """The Hyperparameters page, opened through the app's shell as a student would."""
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("pages/hyperparameters.py").run()
    assert not at.exception, at.exception
    yield at
    from pages.ui import services

    services.lab().shutdown()
    st.cache_resource.clear()


def test_every_setting_has_the_widget_its_schema_describes(hyperparameters_page):
    for name, described in SETTINGS.items():
        (widget,) = [w for w in getattr(hyperparameters_page, described.widget.kind) if w.key == f"hp_{name}"]
        assert (widget.label, widget.help) == (described.label, described.help), name
        if described.widget.kind == "select_slider":
            assert len(widget.options) >= len(described.widget.ladder), name
        if described.widget.kind == "number_input":
            assert widget.max == described.high, name


@pytest.mark.parametrize("name", list(SETTINGS))
def test_each_kind_reads_back_what_it_writes_for_links_and_widgets(name):
    kind = SETTINGS[name].kind
    for value in (SETTINGS[name].default, changed_value(SETTINGS[name])):
        assert kind.parse(kind.to_url(value)) == value
        assert kind.from_widget(kind.widget_value(value)) == value
        assert kind.words(value) and isinstance(kind.short(value), str)


def test_no_code_branches_on_which_kind_a_setting_is():
    names = "|".join(KINDS)
    branching = re.compile(rf"kind\s*(==|!=|in)\s*\(?[^)\n]*\"({names})\"")
    found = [f"{path.relative_to(REPO)}: {line.strip()}" for folder in ("core", "pages")
             for path in (REPO / folder).rglob("*.py") for line in path.read_text().splitlines()
             if branching.search(line)]
    assert found == []
