"""The redactor masks every secret value wherever it sits."""

from __future__ import annotations

import base64

import pytest
from secret_forms import HOSTILE_SECRET, secret_encodings

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


@pytest.mark.parametrize(
    "secret", [HOSTILE_SECRET, "plain-secret-123", "emoji 😀 key"], ids=["hostile", "plain", "emoji"]
)
def test_every_encoding_of_a_secret_is_masked(secret: str) -> None:
    redactor = Redactor([secret])

    for name, form in secret_encodings(secret).items():
        masked = redactor.text(f"<{form}>")
        assert masked == "<***>", name


@pytest.mark.parametrize("prefix", [b"", b"u:", b"us:", b"user:"], ids=["0", "2", "3", "5"])
def test_a_secret_inside_a_longer_base64_text_is_masked_whatever_its_alignment(prefix: bytes) -> None:
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(prefix + HOSTILE_SECRET.encode() + b"tail").decode()

        masked = Redactor([HOSTILE_SECRET]).text(text)

        assert "***" in masked
        # What is left is the few characters that mix the secret's bits with its neighbours'.
        assert len(masked) - 3 <= len(encode(prefix).decode()) + 2 + len(encode(b"tail").decode()) + 1


def test_a_partly_percent_encoded_secret_is_masked() -> None:
    # httpx leaves + / = ' in a query as they are and encodes only the rest.
    partly = "Zm9v+YmFy/c2Vj=cmV0%20%25%22'%5C%20%C3%A9%E2%82%AC"

    assert Redactor([HOSTILE_SECRET]).text(f"token={partly}&x=1") == "token=***&x=1"


def test_ordinary_text_is_left_alone() -> None:
    text = 'GET http://127.0.0.1:8080/a?b=c%20d&e=f+g returned 200: {"ok": "\\u00e9"} &amp; more'

    assert Redactor([HOSTILE_SECRET, "k-123"]).text(text) == text


def test_jinja_tojson_escapes_are_masked() -> None:
    # tojson writes ' < > & as \u0027 and so on, to be safe inside HTML.
    assert Redactor(["a'b<c"]).text('"a\\u0027b\\u003cc"') == '"***"'


def test_a_secret_whose_plus_a_server_read_as_a_space_is_masked_in_every_encoding() -> None:
    # httpx sends + unencoded in a query; the server decodes it as a space and may echo it back.
    as_read = HOSTILE_SECRET.replace("+", " ")
    redactor = Redactor([HOSTILE_SECRET])

    for name, form in secret_encodings(as_read).items():
        assert redactor.text(f"<{form}>") == "<***>", name
