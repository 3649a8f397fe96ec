"""The Lab protocol (core.lab.lab), its two implementations and the coordinator's door agree, by introspection:
the same members, signatures a page can call alike, and answers that are plain data."""

import dataclasses
import inspect
import typing

import pytest

from core.lab.answers_here import AnsweredHere
from core.lab.coordinator import CALLS
from core.lab.jobs import JobManager
from core.lab.lab import Crossing, Lab, LabLoad, crossing, lab_members
from core.lab.lab_client import LabClient

METHODS = sorted(name for name, member in lab_members().items() if inspect.isfunction(member))
IMPLEMENTATIONS = [JobManager, LabClient]


def parameters(function) -> list[tuple[str, object, object]]:
    """(name, kind, default) of each parameter but self; annotations apart (they are strings here and there)."""
    return [(p.name, p.kind, p.default) for p in list(inspect.signature(function).parameters.values())[1:]]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("name", METHODS)
def test_each_implementation_has_every_method_of_the_lab_with_its_signature(implementation, name):
    member = getattr(implementation, name, None)
    assert callable(member), f"{implementation.__name__} lacks Lab.{name}"
    assert member is not getattr(Lab, name), f"{implementation.__name__}.{name} is the protocol's empty body"
    assert parameters(member) == parameters(getattr(Lab, name))
    assert inspect.signature(member).return_annotation == inspect.signature(getattr(Lab, name)).return_annotation


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS, ids=lambda cls: cls.__name__)
def test_each_implementation_has_the_labs_attributes_and_the_load_lines_fields(implementation, tmp_path):
    attributes = [name for name, member in lab_members().items() if not inspect.isfunction(member)]
    for name in attributes:  # set in __init__: declared on the shared base, which both implementations have
        assert name in typing.get_type_hints(AnsweredHere) and issubclass(implementation, AnsweredHere)
    for field in dataclasses.fields(LabLoad):  # a page may read the load line's fields off the lab itself
        assert hasattr(implementation, field.name)


def test_the_coordinator_answers_every_member_but_those_a_web_process_answers_itself():
    here = {name for name in lab_members() if crossing(name) is Crossing.HERE}
    assert set(lab_members()) - here == CALLS
    assert {"saved_runs", "saved_run", "may_delete", "over_budget", "finder_problem", "shutdown"} <= here
    for name in here - {"budget", "shutdown"}:  # answered alike in both, by the one shared implementation
        assert getattr(JobManager, name) is getattr(LabClient, name) is getattr(AnsweredHere, name)


def plain(answer_type) -> bool:
    """Plain data: None, a number, a string, a dataclass, or a list, tuple or union of these."""
    if answer_type in (type(None), bool, int, float, str) or dataclasses.is_dataclass(answer_type):
        return True
    args = typing.get_args(answer_type)
    return bool(args) and all(plain(arg) for arg in args if arg is not Ellipsis)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_answer_that_crosses_is_plain_data(name):
    assert plain(typing.get_type_hints(getattr(Lab, name))["return"])


def test_a_job_manager_is_a_lab(make_manager):
    assert isinstance(make_manager(), Lab)
