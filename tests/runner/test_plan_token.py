"""Plan tokens round-trip, and anything PlanToken.encode did not make is MALFORMED_TOKEN."""

from __future__ import annotations

import pytest

from resumeflow_core.errors import InvalidArgumentError
from resumeflow_core.reasons import MALFORMED_TOKEN
from runner_service.plan_token import MAX_TOKEN_LENGTH, TOKEN_PREFIX, PlanToken


def test_a_token_decodes_to_what_was_encoded() -> None:
    token = PlanToken("a" * 32, 3, "0123456789abcdef")
    text = token.encode()
    assert text.startswith(TOKEN_PREFIX)
    assert PlanToken.decode(text) == token


@pytest.mark.parametrize(
    "text",
    [
        "",
        "rf0.abc",  # another prefix
        TOKEN_PREFIX + "%%%",  # not base64
        TOKEN_PREFIX + "bm90IGpzb24",  # base64 of "not json"
        TOKEN_PREFIX + "WzEsMiwzXQ",  # [1,2,3]: the run id is not a string
        TOKEN_PREFIX + "A" * MAX_TOKEN_LENGTH,  # too long
    ],
)
def test_anything_else_is_malformed(text: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        PlanToken.decode(text)
    assert [(v.field, v.reason) for v in caught.value.violations] == [("resume.plan_token", MALFORMED_TOKEN)]
