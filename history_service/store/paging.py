"""Page sizes and opaque page tokens of the store's list methods."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime

from resumeflow_core.errors import FieldViolation, InvalidArgumentError
from resumeflow_core.limits import id_problem
from resumeflow_core.reasons import MALFORMED_TOKEN, OUT_OF_RANGE

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_TOKEN_LENGTH = 2048  # characters; the tokens made here stay far below it


def page_size(requested: int, *, field: str = "page_size") -> int:
    """The number of items to return for a requested page size (0 means the default).

    Raises:
        InvalidArgumentError: `requested` is negative.
    """
    if requested < 0:
        raise InvalidArgumentError(
            f"{field} must not be negative, got {requested}",
            violations=[FieldViolation(field, "must not be negative", OUT_OF_RANGE)],
        )
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode_token(*parts: str) -> str:
    """An opaque token for the keyset position `parts`."""
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode()


def decode_token(token: str, parts: int) -> list[str]:
    """The keyset position in `token`, which must hold `parts` strings.

    Raises:
        InvalidArgumentError: The token was not made by `encode_token`.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise bad_token()
    try:
        values = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeError, RecursionError) as exc:
        raise bad_token() from exc
    if not (
        isinstance(values, list)
        and len(values) == parts
        and all(isinstance(value, str) and id_problem(value) is None for value in values)
    ):
        raise bad_token()
    return values


def decode_time_token(token: str) -> tuple[datetime, str]:
    """The (time, id) keyset position of a token made by `encode_token(time.isoformat(), id)`."""
    raw_time, key = decode_token(token, 2)
    try:
        time = datetime.fromisoformat(raw_time)
        utc = time.astimezone(UTC) if time.tzinfo is not None else None
    except (ValueError, OverflowError) as exc:  # OverflowError: a zone that leaves datetime's years
        raise bad_token() from exc
    if utc is None:
        raise bad_token()
    return utc, key


def bad_token() -> InvalidArgumentError:
    return InvalidArgumentError(
        "page_token is not a token returned by this list method",
        violations=[FieldViolation("page_token", "malformed page token", MALFORMED_TOKEN)],
    )
