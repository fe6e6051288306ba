"""Checking an answer before it is believed: the shared part of the wire models (`iotcentral_wire`,
`keyvault_wire`).

A model is strict (pydantic `strict=True`: no coercion, so `"id": 123`, `"roles": "operator"` or a numeric
date are refused instead of being turned into something plausible) and ignores fields it does not use.
An answer must say it is JSON (`Content-Type: application/json` or `…+json`; an HTML 200 from a proxy or a
login page is not an answer) and stay under `MAX_BODY`.

`WireError` messages name the fields and what was wrong with them, never their values: an answer may
carry a token value (a create response, a GetSecret), and pydantic's own messages quote the input.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticValidationError

from rotation.errors import WireError

MAX_BODY = 4 * 1024 * 1024
"""Bytes of one answer at most (a page of 100 tokens is ~20 KiB): more is refused, not read on."""
MAX_PROBLEMS = 3

M = TypeVar("M", bound="Wire")


class Wire(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, populate_by_name=True)


def is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def describe(exc: PydanticValidationError) -> str:
    """`field.path: problem` for the first few problems, without the offending values."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False)[:MAX_PROBLEMS]:
        where = ".".join(str(p) for p in error["loc"]) or "(body)"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - MAX_PROBLEMS
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def check_answer(body: bytes, content_type: str | None, what: str) -> None:
    if not is_json(content_type):
        shown = (content_type or "none").split(";", 1)[0].strip()[:60]
        raise WireError(f"{what}: got an answer of type {shown!r}, expected application/json")
    if len(body) > MAX_BODY:
        raise WireError(f"{what}: got an answer of more than {MAX_BODY} bytes, expected at most that")


def parse(model: type[M], body: bytes, content_type: str | None, what: str) -> M:
    """The answer as `model`, or `WireError` (from None: the cause would quote the answer)."""
    check_answer(body, content_type, what)
    try:
        data: Any = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise WireError(f"{what}: got a body that is not valid JSON, expected a JSON document") from None
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise WireError(
            f"{what}: got an answer that does not match the API ({describe(exc)}), expected a valid {model.__name__}"
        ) from None
