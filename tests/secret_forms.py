"""A hostile secret and the forms it takes on its way out, built independently of the redactor."""

from __future__ import annotations

import base64
import html
import json
import re
import urllib.parse

HOSTILE_SECRET = "Zm9v+YmFy/c2Vj=cmV0 %\"'\\ é€"
"""A secret with URL, JSON, repr and HTML specials, base64 look-alike text and non-ASCII."""


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda hit: hit.group().lower(), text)


def secret_encodings(secret: str) -> dict[str, str]:
    """Each form a secret takes in URLs, JSON, Python reprs, HTML and base64, by name."""
    data = secret.encode()
    percent = urllib.parse.quote(secret, safe="")
    return {
        "raw": secret,
        "quote": urllib.parse.quote(secret),
        "quote-safe-none": percent,
        "quote-lower-hex": _lower_hex(percent),
        "quote_plus": urllib.parse.quote_plus(secret),
        "quote_plus-lower-hex": _lower_hex(urllib.parse.quote_plus(secret)),
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


def leaked(text: str | bytes, secret: str = HOSTILE_SECRET) -> list[str]:
    """The names of the encodings of `secret` found in `text` (bytes are searched as UTF-8), also
    of the secret as a server reads it when its `+` arrived unencoded in a query (a space)."""
    forms = secret_encodings(secret)
    if "+" in secret:
        forms.update(
            {
                f"{name} (+ as space)": form
                for name, form in secret_encodings(secret.replace("+", " ")).items()
            }
        )
    return [
        name for name, form in forms.items() if (form.encode() if isinstance(text, bytes) else form) in text
    ]
