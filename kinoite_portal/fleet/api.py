"""The token-authenticated API the desktop agent talks to: enrollment and check-in.

Both views are ``csrf_exempt`` because they are authenticated by a bearer token in the ``Authorization`` header and
never by a session cookie: a browser cannot be tricked into sending that header, so there is nothing to forge.

Status codes: 400 malformed or missing fields, 401 no or unknown token, 403 a revoked host token or the token of
another machine, 410 an enrollment token that has expired, been used up or been revoked (it was valid once; the
installer needs a new one), 413 a body over ``PORTAL_CHECKIN_MAX_BYTES``, 405 any method but POST. Nothing is
stored when the answer is an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.csrf import csrf_exempt

from kinoite_portal.core import tokens
from kinoite_portal.core.json_body import JsonBodyError, json_object_from
from kinoite_portal.fleet.models import Host
from kinoite_portal.fleet.services.checkins import checkin_record
from kinoite_portal.fleet.services.enrollment import (
    EnrollmentError,
    host_enroll,
    validate_hostname,
    validate_machine_id,
)
from kinoite_portal.fleet.status_parser import StatusError, parse_bootc_status, parse_status

ENROLLMENT_STATUS = {"invalid": 401, "expired": 410, "used_up": 410, "revoked": 410, "other_department": 409}
GREENBOOT_VALUES = {"green", "red", "fallback", "unknown"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def error_response(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


def json_post(view: Callable[[HttpRequest], JsonResponse]) -> Callable[[HttpRequest], JsonResponse]:
    """Answer 405 in JSON to anything but POST, and turn ApiError into its JSON answer."""

    def wrapper(request: HttpRequest) -> JsonResponse:
        if request.method != "POST":
            response = error_response(405, "method_not_allowed", "use POST")
            response["Allow"] = "POST"
            return response
        try:
            return view(request)
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.detail)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def read_json_body(request: HttpRequest) -> dict[str, Any]:
    """Return the request body as a JSON object (the portal's one JSON reader), or raise ApiError."""
    try:
        return json_object_from(request)
    except JsonBodyError as exc:
        raise ApiError(exc.status, exc.code, exc.detail) from None


def require_bearer(request: HttpRequest) -> str:
    raw = tokens.bearer_token(request.headers.get("Authorization"))
    if raw is None:
        raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <token>'")
    return raw


def field(data: dict[str, Any], name: str, validate: Callable[[Any], str]) -> str:
    if name not in data:
        raise ApiError(400, "missing_field", f"'{name}' is required")
    try:
        return validate(data[name])
    except ValueError as exc:
        raise ApiError(400, "invalid_field", str(exc)) from None


@csrf_exempt  # token-authenticated, never cookie-authenticated: see the module docstring
@login_not_required
@json_post
def enroll(request: HttpRequest) -> JsonResponse:
    """Exchange an enrollment token (bearer) for a per-host token."""
    raw = require_bearer(request)
    data = read_json_body(request)
    hostname = field(data, "hostname", validate_hostname)
    machine_id = field(data, "machine_id", validate_machine_id)
    try:
        enrolled = host_enroll(raw_token=raw, hostname=hostname, machine_id=machine_id)
    except EnrollmentError as exc:
        raise ApiError(ENROLLMENT_STATUS.get(exc.code, 400), exc.code, exc.message) from None
    return JsonResponse(
        {
            "token": enrolled.raw,
            "host_id": enrolled.host.pk,
            "hostname": enrolled.host.hostname,
            "department": enrolled.host.department.slug,
        },
        status=201 if enrolled.created else 200,
    )


@csrf_exempt  # token-authenticated, never cookie-authenticated: see the module docstring
@login_not_required
@json_post
def checkin(request: HttpRequest) -> JsonResponse:
    """Store a host's ``rpm-ostree status --json`` report, and its ``bootc status --json`` one when it sends it."""
    raw = require_bearer(request)
    # Only what the checks need: the JSON columns of the row are rewritten, never read, on a check-in.
    host = (
        Host.objects.filter(token_hash=tokens.token_hash(raw))
        .only("pk", "machine_id", "token_revoked_at", "department_id")
        .first()
    )
    if host is None:
        raise ApiError(401, "unauthorized", "unknown host token: enroll this host again")
    if host.token_revoked_at is not None:
        raise ApiError(403, "revoked", "this host token was revoked: enroll this host again")
    data = read_json_body(request)
    hostname = field(data, "hostname", validate_hostname)
    machine_id = field(data, "machine_id", validate_machine_id)
    if machine_id != host.machine_id:
        raise ApiError(403, "wrong_host", "this token belongs to another machine")
    bootc_doc = data.get("bootc")
    if "status" not in data and bootc_doc is None:
        raise ApiError(400, "missing_field", "'status' is required (or 'bootc' from bootc status --json)")
    greenboot = data.get("greenboot")
    if greenboot is not None and greenboot not in GREENBOOT_VALUES:
        raise ApiError(400, "invalid_field", "'greenboot' must be 'green', 'red', 'fallback', 'unknown' or null")
    booted_default = data.get("booted_default")
    if booted_default is not None and not isinstance(booted_default, bool):
        raise ApiError(400, "invalid_field", "'booted_default' must be true, false or null")
    try:
        status = parse_status(data["status"]) if "status" in data else None
    except StatusError as exc:
        raise ApiError(400, "invalid_status", str(exc)) from None
    try:
        bootc = parse_bootc_status(bootc_doc) if bootc_doc is not None else None
    except StatusError as exc:
        raise ApiError(400, "invalid_bootc", str(exc)) from None
    if status is None and (bootc is None or bootc.booted is None):
        raise ApiError(400, "missing_field", "'status' is required: bootc reports no booted image on this host")
    record = checkin_record(
        host=host,
        hostname=hostname,
        status=status,
        bootc=bootc,
        report=data,
        greenboot=greenboot,
        booted_default=booted_default,
        remote_addr=request.META.get("REMOTE_ADDR") or None,
    )
    return JsonResponse(
        {
            "host_id": host.pk,
            "checkin_id": record.pk,
            "booted_checksum": host.booted_checksum,
            "booted_version": host.booted_version,
            **checkin_answer(host),
        }
    )


def checkin_answer(host: Host) -> dict[str, Any]:
    """Return what apps above fleet add to the check-in answer (``PORTAL_CHECKIN_ANSWER_PROVIDER``: the ring's ref)."""
    name = getattr(settings, "PORTAL_CHECKIN_ANSWER_PROVIDER", "")
    return dict(import_string(name)(host=host)) if name else {}
