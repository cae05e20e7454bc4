"""The client's `Reason` and README's error table agree with the services' reason catalogue.

The client is a library of its own and must not import the services' code: this test is what
keeps the two lists of reasons equal.
"""

from __future__ import annotations

import re
from pathlib import Path

import grpc

from resumeflow_client import Reason
from resumeflow_client._errors import _ERROR_BY_REASON
from resumeflow_core import reasons

README = Path(__file__).resolve().parents[2] / "README.md"
CLIENT_ONLY = {Reason.INVALID_WORKFLOW_FILE}
"""Reasons the client sets itself, for failures that never reach a server."""
_CODE = re.compile(r"`([A-Z][A-Z_]+)`")


def error_table() -> dict[str, set[str]]:
    """README's error table: each reason of the `ErrorInfo.reason` column → the gRPC codes of its rows."""
    section = README.read_text().split("## Errors clients should handle", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    assert rows[0].startswith("| gRPC code | `ErrorInfo.reason` |"), rows[0]
    table: dict[str, set[str]] = {}
    for row in rows[2:]:  # after the header and its |---| line
        code_cell, reason_cell = (cell.strip() for cell in row.strip("|").split("|")[:2])
        for reason in _CODE.findall(reason_cell):
            table.setdefault(reason, set()).update(_CODE.findall(code_cell))
    return table


def test_the_client_knows_exactly_the_reasons_the_services_send() -> None:
    assert {str(reason) for reason in Reason if reason not in CLIENT_ONLY} == reasons.ERROR_REASONS
    assert {str(reason) for reason in CLIENT_ONLY} & (reasons.ERROR_REASONS | reasons.LOCAL_REASONS) == set()


def test_each_reason_member_is_its_own_name() -> None:
    assert [reason.name for reason in Reason] == [reason.value for reason in Reason]


def test_the_readme_error_table_lists_every_reason_the_services_send() -> None:
    table = error_table()
    assert reasons.ERROR_REASONS - set(table) == set()
    # …and nothing that is neither a sent reason nor a node error code (a typo, a renamed reason).
    assert set(table) - reasons.ERROR_REASONS - reasons.NODE_ERROR_CODES == set()


def test_a_reason_with_a_class_of_its_own_comes_with_that_class_status_code() -> None:
    # from_rpc_error picks the finer class only within the status family, so a README row naming
    # another code for the reason would mean the class is never raised.
    table = error_table()
    for reason, cls in _ERROR_BY_REASON.items():
        assert reason in reasons.ERROR_REASONS
        assert table[reason] == {cls.default_code.name}, reason
        assert isinstance(cls.default_code, grpc.StatusCode)
