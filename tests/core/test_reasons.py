"""The reason catalogue is complete and consistent: every constant is its own name and in a set,
every domain error's default reason is one the catalogue knows, and README names every node
error code."""

from __future__ import annotations

import re
from pathlib import Path

import grpc

from resumeflow_core import errors, reasons
from resumeflow_core.rpc.errors import status_code_for

CONSTANTS = {
    name: value for name, value in vars(reasons).items() if name.isupper() and isinstance(value, str)
}
SETS = (
    reasons.ERROR_REASONS
    | reasons.NODE_ERROR_CODES
    | reasons.LOCAL_REASONS
    | reasons.SHARED_VIOLATION_REASONS
)


def test_every_constant_is_its_own_name() -> None:
    assert CONSTANTS
    assert {name for name, value in CONSTANTS.items() if name != value} == set()


def test_every_constant_belongs_to_a_set_and_every_member_is_a_constant() -> None:
    assert set(CONSTANTS.values()) == SETS


def test_sent_reasons_and_local_reasons_do_not_overlap() -> None:
    assert set() == reasons.ERROR_REASONS & reasons.LOCAL_REASONS


def test_each_generic_reason_is_the_name_of_its_errors_status_code() -> None:
    families = [
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.ResumeflowError)
    ]
    assert len(families) > 10
    for cls in families:
        assert cls.default_reason in reasons.ERROR_REASONS | {reasons.INTERNAL}, cls
        if cls.default_reason in grpc.StatusCode.__members__ and cls is not errors.ResumeflowError:
            error = cls.__new__(cls)
            assert status_code_for(error).name == cls.default_reason, cls


def test_the_readme_names_every_node_error_code_and_no_other() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Retries and timeouts", 1)[1].split("\n### ", 1)[0]
    named = set(re.findall(r"`([A-Z][A-Z_]+)`", section))
    assert named == reasons.NODE_ERROR_CODES
