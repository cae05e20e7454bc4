"""Replaces secret values with `***` in anything about to leave the runner, in every form a value
takes on its way out: raw, percent-encoded, JSON-, repr- or HTML-escaped, and base64."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

MASK = "***"

PATTERN_CACHE_SIZE = 64
"""Sets of secrets whose patterns are kept compiled."""

MIN_BASE64_CORE = 8
"""Shortest base64 core of an embedded secret that is masked; shorter ones would hit unrelated text."""

# Escapes of single characters used by JSON, Python's repr and HTML, besides the generic ones.
_ESCAPES: dict[str, tuple[str, ...]] = {
    '"': ('\\"', "&quot;", "&#34;", "&#x22;"),
    "'": ("\\'", "&#39;", "&#x27;"),
    "+": (" ", "%20"),  # read as a space by a server it reached unencoded, then re-encoded
    "\\": ("\\\\",),
    "/": ("\\/",),
    "&": ("&amp;",),
    "<": ("&lt;",),
    ">": ("&gt;",),
    "\n": ("\\n",),
    "\r": ("\\r",),
    "\t": ("\\t",),
    "\b": ("\\b",),
    "\f": ("\\f",),
}


class Redactor:
    """Masks every occurrence of each secret value, in strings nested anywhere in dicts and lists.

    Two compiled patterns (escaped forms, literal forms; see `_patterns`), built once per run and
    cached per set of secrets, match every secret in any of these forms:

    - each character other than an ASCII letter or digit (which every encoder but base64 leaves
      alone, and which only match themselves) may appear as itself, percent-encoded (`quote`, `quote_plus`:
      `%XX` of each UTF-8 byte in either hex case, `+` for a space), JSON-escaped (`\\"`, `\\/`,
      `\\uXXXX`, surrogate pairs; `ensure_ascii` or not), repr-escaped (`\\'`, `\\xHH`, `\\uXXXX`,
      `\\UXXXXXXXX`, and a bytes repr's `\\xHH` per UTF-8 byte) or HTML-escaped; the forms may mix,
      as when an HTTP library percent-encodes only some characters of a URL;
    - the secret with each `+` read as a space, as a server decodes a query it got unencoded, in
      any of these forms too;
    - base64 of the UTF-8 bytes, standard and URL-safe, with and without padding, and, for a secret
      embedded in a longer base64 text (`user:secret` in Basic auth), the characters that depend
      on the secret alone at each of the three byte alignments (at least MIN_BASE64_CORE of them).

    Longer secrets are matched first, so a secret containing another is masked whole.
    Numbers whose text contains a secret become the masked string.
    """

    def __init__(self, secret_values: Iterable[Any]) -> None:
        """Compile the patterns matching every secret in every form.

        Args:
            secret_values: The runtime secrets' values; empty ones are ignored.
        """
        values = frozenset(str(value) for value in secret_values if value is not None and str(value))
        self.active = bool(values)
        """False when there is no secret to mask."""
        self._escaped, self._literal, self._needles = _patterns(values)

    def redact(self, value: Any) -> Any:
        """`value` with every secret masked, as new containers (keys are masked too).

        With no secrets, `value` itself is returned.
        """
        return self._walk(value) if self.active else value

    def text(self, value: str) -> str:
        """One string with every secret masked."""
        return self._mask(value) if self.active else value

    def _mask(self, text: str) -> str:
        # Spelled out, not any(...) over a tuple: this runs for every string sent, and costs a fifth.
        if "%" in text or "\\" in text or "&" in text or "+" in text:
            text = self._escaped.sub(MASK, text)
        for needle in self._needles:
            if needle in text:
                return self._literal.sub(MASK, text)
        return text

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._mask(value)
        if isinstance(value, dict):
            return {self._walk(key): self._walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._walk(item) for item in value]
        if isinstance(value, tuple):
            return tuple(self._walk(item) for item in value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            text = str(value)
            masked = self._mask(text)
            return value if masked == text else masked
        return value


_Patterns = tuple[re.Pattern[str], re.Pattern[str], tuple[str, ...]]


@lru_cache(maxsize=PATTERN_CACHE_SIZE)
def _patterns(values: frozenset[str]) -> _Patterns:
    """The escaped-forms pattern, the literal-forms pattern and the literals to look for first.

    Two passes keep the common case cheap. An escaped form always holds %, \\, & or +, so text
    without them (most text) skips the escape pattern; the raw and base64 forms are literals,
    looked for with `in` (C string search) before any regular expression runs. Cached: building
    the patterns of a hostile secret takes milliseconds, and runs often share their secrets (the
    compiled patterns hold the secrets either way, in `re`'s own cache).
    """
    ordered = sorted(values, key=lambda value: (-len(value), value))
    literals = sorted(
        {
            form
            for value in values
            for variant in (value, *_mangled(value))
            for form in (variant, *base64_forms(variant))
        },
        key=lambda form: (-len(form), form),
    )
    escaped = re.compile("|".join(branch for value in ordered for branch in encoded_patterns(value)))
    # A literal form holding a shorter one needs no search of its own.
    needles = tuple(form for form in literals if not any(o in form for o in literals if o != form))
    return escaped, re.compile("|".join(map(re.escape, literals))), needles


def encoded_patterns(secret: str) -> list[str]:
    """Regular expressions that together match `secret` with each character in any of its encodings.

    There is one per form of the first character, so that every alternative of the run's pattern
    starts with a literal character: `re` then skips to the next possible start in C, instead of
    trying the whole alternation at every position of every string (some 200 times slower).
    """
    forms = [sorted(_char_forms(char), key=len, reverse=True) for char in secret]  # longest escape wins
    rest = "".join(group[0] if len(group) == 1 else f"(?:{'|'.join(group)})" for group in forms[1:])
    return [first + rest for first in forms[0]]


def _char_forms(char: str) -> set[str]:
    """Regular expressions for one character: itself and its escapes.

    ASCII letters and digits are left as they are by every encoder but base64, so they match only
    themselves: most of a typical secret's pattern stays literal, cheap to compile and to match.
    """
    if char.isascii() and char.isalnum():
        return {char}
    code = ord(char)
    utf8 = char.encode()
    forms = {re.escape(char), "".join("%" + _hex(byte, 2) for byte in utf8)}
    forms.update(map(re.escape, _ESCAPES.get(char, ())))
    if char == " ":
        forms.add(r"\+")
    # repr's \xHH and JSON's \u00HH; tojson writes ' < > & as \u0027 …
    if code <= 0xFF:
        forms.add(r"\\(?:x|u00)" + _hex(code, 2))
    elif code <= 0xFFFF:
        forms.add(r"\\u" + _hex(code, 4))
    else:
        high, low = divmod(code - 0x10000, 0x400)
        forms.add(r"\\u" + _hex(0xD800 + high, 4) + r"\\u" + _hex(0xDC00 + low, 4))
        forms.add(r"\\U" + _hex(code, 8))
    if code >= 0x80:
        forms.add("".join(r"\\x" + _hex(byte, 2) for byte in utf8))  # repr of the bytes
    return forms


def _hex(number: int, width: int) -> str:
    """`number` in hexadecimal, as a pattern accepting either case."""
    return "".join(
        f"[{digit}{digit.upper()}]" if digit.isalpha() else digit for digit in f"{number:0{width}x}"
    )


def _mangled(secret: str) -> tuple[str, ...]:
    """What a secret becomes when sent unencoded where `+` means a space (a URL's query)."""
    return (secret.replace("+", " "),) if "+" in secret else ()


def base64_forms(secret: str) -> set[str]:
    """The base64 texts that reveal `secret`: standalone (padded or not) and embedded cores.

    In a longer base64 text the secret's bytes start at one of three alignments; the characters
    encoding only secret bits are the same whatever surrounds them, the ones at either edge are not.
    """
    data = secret.encode()
    forms: set[str] = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        standalone = encode(data).decode()
        forms.update((standalone, standalone.rstrip("=")))
        for offset in range(3):
            text = encode(b"\0" * offset + data + b"\0\0").decode()
            first = -(-8 * offset // 6)  # the first character whose 6 bits all fall in the secret
            last = 8 * (offset + len(data)) // 6  # one past the last such character
            if last - first >= MIN_BASE64_CORE:
                forms.add(text[first:last])
    return forms
