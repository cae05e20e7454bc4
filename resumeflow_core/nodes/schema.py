"""Config checks shared by the built-in node types: every problem at store time, clean run-time failures."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from resumeflow_core.nodes.base import NodeFailure
from resumeflow_core.reasons import INVALID_CONFIG
from resumeflow_core.templates import check_syntax

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What a variable name must look like, so that `vars.<name>` works in templates."""


def is_template(value: Any) -> bool:
    """True for a string holding `{{` or `{%`: its type is only known once rendered."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def is_integer(value: Any) -> bool:
    """True for ints, and for integral floats: numbers arriving through a protobuf Struct are floats."""
    return is_number(value) and float(value).is_integer()


class ConfigCheck:
    """Collects every problem of one node config as (key path, description).

    Creating it already checks the keys against `keys` and the syntax of every template
    (and of every expression under `expression_keys`).
    """

    def __init__(
        self,
        config: Any,
        keys: Iterable[str] = (),
        *,
        expression_keys: Iterable[str] = (),
    ) -> None:
        self.problems: list[tuple[str, str]] = []
        known = frozenset(keys)
        expressions = frozenset(expression_keys)
        if not isinstance(config, Mapping):
            self.add("", "must be a mapping")
            config = {}
        self.config: Mapping[str, Any] = config
        for key in config:
            if key not in known:
                expected = ", ".join(sorted(known)) if known else "none"
                self.add(str(key), f"unknown key (known keys: {expected})")
        templates = {key: value for key, value in config.items() if key in known - expressions}
        self.problems.extend(check_syntax(templates))
        for key in expressions & config.keys():
            self.problems.extend(check_syntax({key: config[key]}, expressions=True))

    def add(self, path: str, description: str) -> None:
        self.problems.append((path, description))

    def value(self, key: str, *, required: bool) -> Any:
        """The raw value of `key`, or None when absent (a problem when required)."""
        if key not in self.config:
            if required:
                self.add(key, "is required")
            return None
        return self.config[key]

    def number(
        self,
        key: str,
        *,
        minimum: float,
        exclusive: bool = False,
        required: bool = False,
    ) -> None:
        value = self.value(key, required=required)
        if value is None or is_template(value):
            return
        bound = f"greater than {minimum:g}" if exclusive else f"at least {minimum:g}"
        if not is_number(value) or value < minimum or (exclusive and value == minimum):
            self.add(key, f"must be a number {bound}, or a template")

    def integer(self, key: str, *, minimum: int, maximum: int | None = None) -> None:
        """Check an optional whole number in [minimum, maximum], or a template."""
        value = self.value(key, required=False)
        if value is None or is_template(value):
            return
        if not is_integer(value) or value < minimum or (maximum is not None and value > maximum):
            bound = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
            self.add(key, f"must be a whole number {bound}, or a template")

    def string(self, key: str, *, required: bool = False, choices: Iterable[str] = ()) -> None:
        """Check a non-empty string; `choices` (upper case) are matched case-insensitively."""
        value = self.value(key, required=required)
        options = sorted(choices)
        if value is None or is_template(value):
            return
        if not isinstance(value, str) or not value.strip():
            self.add(key, "must be a non-empty string")
        elif options and value.upper() not in options:
            self.add(key, f"must be one of {', '.join(options)}, or a template")

    def mapping(self, key: str, *, required: bool = False, names: bool = False) -> Mapping[str, Any]:
        """Check that `key` holds a mapping; with `names`, that its keys are variable names."""
        value = self.value(key, required=required)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add(key, "must be a mapping")
            return {}
        if names:
            for name in value:
                if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
                    self.add(
                        f"{key}.{name}",
                        "a variable name must be a letter or _ then letters, digits or _",
                    )
        return value


def number_setting(config: Mapping[str, Any], key: str, default: float, *, minimum: float = 0.0) -> float:
    """The rendered value of a numeric setting.

    Raises:
        NodeFailure: INVALID_CONFIG when it is not a number of at least `minimum`.
    """
    value = config.get(key)
    if value is None:
        value = default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or number < minimum:
        raise NodeFailure(
            INVALID_CONFIG,
            f"{key} must be a number of at least {minimum:g}, got {value!r}",
        )
    return number
