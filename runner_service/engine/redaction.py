"""Replaces secret values with `***` in anything about to leave the runner."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

MASK = "***"


class Redactor:
    """Masks every occurrence of each secret value, in strings nested anywhere in dicts and lists.

    Longer secrets are matched first, so a secret containing another is masked whole.
    Numbers whose text contains a secret become the masked string.
    """

    def __init__(self, secret_values: Iterable[Any]) -> None:
        """Compile one pattern matching every secret.

        Args:
            secret_values: The runtime secrets' values; empty ones are ignored.
        """
        values = {str(value) for value in secret_values if value is not None and str(value)}
        ordered = sorted(values, key=lambda value: (-len(value), value))
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @property
    def active(self) -> bool:
        """False when there is no secret to mask."""
        return self._pattern is not None

    def redact(self, value: Any) -> Any:
        """`value` with every secret masked, as new containers (keys are masked too).

        With no secrets, `value` itself is returned.
        """
        if self._pattern is None:
            return value
        return self._walk(value, self._pattern)

    def text(self, value: str) -> str:
        """One string with every secret masked."""
        return value if self._pattern is None else self._pattern.sub(MASK, value)

    def _walk(self, value: Any, pattern: re.Pattern[str]) -> Any:
        if isinstance(value, str):
            return pattern.sub(MASK, value)
        if isinstance(value, dict):
            return {self._walk(key, pattern): self._walk(item, pattern) for key, item in value.items()}
        if isinstance(value, list):
            return [self._walk(item, pattern) for item in value]
        if isinstance(value, tuple):
            return tuple(self._walk(item, pattern) for item in value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            text = str(value)
            return pattern.sub(MASK, text) if pattern.search(text) else value
        return value
