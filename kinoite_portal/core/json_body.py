"""The one reader of JSON request bodies, for every API: what it accepts can be stored, or it answers 400.

``json.loads`` alone accepts what no database column takes: ``1e400`` becomes infinity (PostgreSQL and SQLite's
JSON refuse it; so do ``NaN`` and ``Infinity``), an integer may be longer than any integer column, a string may
hold NUL or a lone surrogate, and a body nested 100,000 deep raises RecursionError. Each is refused here with a
clear 400, before anything is stored.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest

MAX_DEPTH = 64


class JsonBodyError(Exception):
    """The body cannot be used: ``status`` (400 or 413), a short ``code`` and a ``detail`` for the caller."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text[:40]} is out of range for a number")
    return number


def _bounded_int(text: str) -> int:
    number = int(text)
    if abs(number) >= 2**63:  # no integer column (and no JSON reader in another language) takes it
        raise ValueError(f"{text[:40]} is out of range for a number")
    return number


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def storable_problem(value: Any, depth: int = 0) -> str:
    """Return why a parsed document cannot be stored as JSON in every database we support, or ''."""
    if depth > MAX_DEPTH:
        return f"the document is nested deeper than {MAX_DEPTH} levels"
    if isinstance(value, str):
        # PostgreSQL's jsonb refuses NUL characters, and lone surrogates cannot be encoded as UTF-8.
        if "\x00" in value:
            return "strings must not contain NUL characters"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "strings must be valid Unicode (no lone surrogates)"
        return ""
    if isinstance(value, dict):
        for key, item in value.items():
            problem = storable_problem(key, depth + 1) or storable_problem(item, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = storable_problem(item, depth + 1)
            if problem:
                return problem
    return ""


def json_object_from(request: HttpRequest, *, empty: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return the request body as a JSON object; raise JsonBodyError for anything else.

    Bodies over ``PORTAL_CHECKIN_MAX_BYTES`` are refused (413) before they are read whole. An empty body is
    ``empty`` when given (the calls whose fields are all optional), else an error.
    """
    limit = settings.PORTAL_CHECKIN_MAX_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise JsonBodyError(400, "bad_request", "Content-Length is not a number") from None
    if declared > limit:
        raise JsonBodyError(413, "too_large", f"the body is larger than {limit} bytes")
    body = request.read(limit + 1)
    if len(body) > limit:
        raise JsonBodyError(413, "too_large", f"the body is larger than {limit} bytes")
    if not body.strip() and empty is not None:
        return dict(empty)
    try:
        data = json.loads(body, parse_float=_finite_float, parse_int=_bounded_int, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        detail = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise JsonBodyError(400, "malformed_json", f"the body is not valid JSON: {detail}") from None
    problem = storable_problem(data)
    if problem:
        raise JsonBodyError(400, "malformed_json", problem)
    if not isinstance(data, dict):
        raise JsonBodyError(400, "malformed_json", "the body must be a JSON object")
    return data
