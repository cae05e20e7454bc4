"""Page sizes and opaque page tokens of the store's list methods."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from resumeflow_core.errors import FieldViolation, InvalidArgumentError

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size(requested: int, *, field: str = "page_size") -> int:
    """The number of items to return for a requested page size (0 means the default).

    Raises:
        InvalidArgumentError: `requested` is negative.
    """
    if requested < 0:
        raise InvalidArgumentError(
            f"{field} must not be negative, got {requested}",
            violations=[FieldViolation(field, "must not be negative")],
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
    try:
        values = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeError) as exc:
        raise bad_token() from exc
    if not (
        isinstance(values, list) and len(values) == parts and all(isinstance(value, str) for value in values)
    ):
        raise bad_token()
    return values


def decode_time_token(token: str) -> tuple[datetime, str]:
    """The (time, id) keyset position of a token made by `encode_token(time.isoformat(), id)`."""
    raw_time, key = decode_token(token, 2)
    try:
        time = datetime.fromisoformat(raw_time)
    except ValueError as exc:
        raise bad_token() from exc
    if time.tzinfo is None:
        raise bad_token()
    return time, key


def bad_token() -> InvalidArgumentError:
    return InvalidArgumentError(
        "page_token is not a token returned by this list method",
        violations=[FieldViolation("page_token", "malformed page token")],
    )
