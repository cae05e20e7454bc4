"""The redactor masks every secret value wherever it sits."""

from __future__ import annotations

import base64
import html
import json
import re
import urllib.parse

import pytest

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


HOSTILE = "Zm9v+YmFy/c2Vj=cmV0 %\"'\\ é€"
"""A secret with URL, JSON, repr and HTML specials, base64 look-alike text and non-ASCII."""


def _encodings(secret: str) -> dict[str, str]:
    """Forms a secret takes on its way out, built here independently of the redactor."""
    data = secret.encode()
    percent = urllib.parse.quote(secret, safe="")
    return {
        "raw": secret,
        "quote": urllib.parse.quote(secret),
        "quote-safe-none": percent,
        "quote-lower-hex": re.sub(r"%[0-9A-F]{2}", lambda hit: hit.group().lower(), percent),
        "quote_plus": urllib.parse.quote_plus(secret),
        "quote_plus-lower-hex": re.sub(
            r"%[0-9A-F]{2}", lambda hit: hit.group().lower(), urllib.parse.quote_plus(secret)
        ),
        "json": json.dumps(secret)[1:-1],
        "json-utf8": json.dumps(secret, ensure_ascii=False)[1:-1],
        "repr": repr(secret)[1:-1],
        "ascii": ascii(secret)[1:-1],
        "bytes-repr": repr(data)[2:-1],
        "html": html.escape(secret),
        "base64": base64.b64encode(data).decode(),
        "base64-unpadded": base64.b64encode(data).decode().rstrip("="),
        "base64-urlsafe": base64.urlsafe_b64encode(data).decode(),
        "base64-urlsafe-unpadded": base64.urlsafe_b64encode(data).decode().rstrip("="),
    }


@pytest.mark.parametrize(
    "secret", [HOSTILE, "plain-secret-123", "emoji 😀 key"], ids=["hostile", "plain", "emoji"]
)
def test_every_encoding_of_a_secret_is_masked(secret: str) -> None:
    redactor = Redactor([secret])

    for name, form in _encodings(secret).items():
        masked = redactor.text(f"<{form}>")
        assert masked == "<***>", name


@pytest.mark.parametrize("prefix", [b"", b"u:", b"us:", b"user:"], ids=["0", "2", "3", "5"])
def test_a_secret_inside_a_longer_base64_text_is_masked_whatever_its_alignment(prefix: bytes) -> None:
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        text = encode(prefix + HOSTILE.encode() + b"tail").decode()

        masked = Redactor([HOSTILE]).text(text)

        assert "***" in masked
        # What is left is the few characters that mix the secret's bits with its neighbours'.
        assert len(masked) - 3 <= len(encode(prefix).decode()) + 2 + len(encode(b"tail").decode()) + 1


def test_a_partly_percent_encoded_secret_is_masked() -> None:
    # httpx leaves + / = ' in a query as they are and encodes only the rest.
    partly = "Zm9v+YmFy/c2Vj=cmV0%20%25%22'%5C%20%C3%A9%E2%82%AC"

    assert Redactor([HOSTILE]).text(f"token={partly}&x=1") == "token=***&x=1"


def test_ordinary_text_is_left_alone() -> None:
    text = 'GET http://127.0.0.1:8080/a?b=c%20d&e=f+g returned 200: {"ok": "\\u00e9"} &amp; more'

    assert Redactor([HOSTILE, "k-123"]).text(text) == text
