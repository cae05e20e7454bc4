"""Plan tokens: what PlanResume hands a client so that a resume runs exactly the plan it reviewed.

A token names the source run, the workflow version and the digest of the plan (`ResumePlan.digest`);
it is opaque to clients, carries no secret, and is checked again, not trusted, when it comes back.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from resumeflow_core.errors import FieldViolation, InvalidArgumentError
from resumeflow_core.limits import id_problem
from resumeflow_core.reasons import MALFORMED_TOKEN

TOKEN_PREFIX = "rf1."
MAX_TOKEN_LENGTH = 2048  # characters; the tokens made here stay far below it
FIELD = "resume.plan_token"


@dataclass(frozen=True)
class PlanToken:
    """What a plan token pins: a resume whose source, version or plan differ is stale."""

    source_run_id: str
    workflow_version: int
    digest: str

    def encode(self) -> str:
        payload = json.dumps([self.source_run_id, self.workflow_version, self.digest], separators=(",", ":"))
        return TOKEN_PREFIX + base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> PlanToken:
        """The token `text` spells.

        Raises:
            InvalidArgumentError: MALFORMED_TOKEN, when `text` is not a token `encode` made.
        """
        try:
            if not text.startswith(TOKEN_PREFIX) or len(text) > MAX_TOKEN_LENGTH:
                raise ValueError("unknown prefix or too long")
            body = text[len(TOKEN_PREFIX) :]
            source, version, digest = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            if not isinstance(source, str) or id_problem(source) is not None:
                raise ValueError("not a run id")
            return cls(source, int(version), str(digest))
        except (ValueError, TypeError, binascii.Error, RecursionError) as exc:
            raise InvalidArgumentError(
                f"{FIELD} is not a token PlanResume returned",
                violations=[FieldViolation(FIELD, "malformed plan token", MALFORMED_TOKEN)],
            ) from exc
