"""The redactor masks every secret value wherever it sits."""

from __future__ import annotations

from runner_service.engine import Redactor


def test_secrets_are_masked_in_nested_values_and_keys() -> None:
    redactor = Redactor(["hunter2", "tok"])
    value = {"hunter2": ["a hunter2 b", {"x": ("tok", 1)}], "n": None, "flag": True}

    assert redactor.redact(value) == {
        "***": ["a *** b", {"x": ("***", 1)}],
        "n": None,
        "flag": True,
    }
    assert value["hunter2"][0] == "a hunter2 b"  # the input is left alone


def test_the_longest_secret_is_masked_first() -> None:
    assert Redactor(["abc", "abcdef"]).redact("xabcdefx abc") == "x***x ***"


def test_numbers_containing_a_secret_are_masked() -> None:
    assert Redactor(["4242"]).redact({"pin": 4242, "other": 17, "f": 4242.5}) == {
        "pin": "***",
        "other": 17,
        "f": "***.5",
    }


def test_empty_and_missing_secrets_are_ignored() -> None:
    redactor = Redactor(["", None])

    assert not redactor.active
    assert redactor.redact({"a": ""}) == {"a": ""}


def test_regex_characters_in_secrets_are_literal() -> None:
    assert Redactor(["a.c*"]).text("abc a.c* a.cc") == "abc *** a.cc"
