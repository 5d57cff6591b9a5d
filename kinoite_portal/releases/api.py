"""The promotion JSON API for automation: the seed's Ansible "promote-to-prod" becomes one call, still approved.

Authentication is ``Authorization: Bearer <token>`` only (kinoite_portal.core.models.ApiToken, stored hashed); the
request acts as the token's user with exactly that user's permissions. These views are csrf_exempt because they
never look at the session cookie: a browser cannot forge a request that carries a bearer token it does not have.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from kinoite_portal.core.api_tokens import api_token_authenticate
from kinoite_portal.core.json_body import JsonBodyError, json_object_from
from kinoite_portal.core.tokens import bearer_token
from kinoite_portal.releases.errors import PromotionConflict, PromotionError
from kinoite_portal.releases.models import Promotion
from kinoite_portal.releases.services import approvals, promotions, rollbacks
from kinoite_portal.releases.services.queueing import job_waiting_warnings


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def token_required(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """Authenticate by bearer token, never by cookie; set request.user to the token's user."""

    @login_not_required
    @csrf_exempt
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        raw = bearer_token(request.headers.get("Authorization"))
        if raw is None:
            return _error(401, "Send Authorization: Bearer <API token>.")
        token = api_token_authenticate(raw)
        if token is None:
            return _error(401, "Unknown, revoked or expired API token.")
        request.user = token.user
        return view(request, *args, **kwargs)

    return wrapped


def _body(request: HttpRequest) -> dict[str, Any]:
    """Return the body as a JSON object (every field of these calls is optional: no body is ``{}``)."""
    try:
        return json_object_from(request, empty={})
    except JsonBodyError as exc:
        raise PromotionError(f"The body must be a JSON object: {exc.detail}.") from None


def promotion_json(promotion: Promotion) -> dict[str, Any]:
    return {
        "id": promotion.pk,
        "kind": promotion.kind,
        "state": promotion.state,
        "checksum": promotion.commit.checksum,
        "version": promotion.commit.version,
        "target_stage": promotion.target_stage.name,
        "target_ref": promotion.target_ref,
        "requested_by": promotion.requested_by.get_username() if promotion.requested_by else None,
        "requested_at": promotion.requested_at.isoformat(),
        "expedited": promotion.expedited,
        "policy": promotion.policy,
        "published_checksum": promotion.published_commit.checksum if promotion.published_commit else None,
        "failure_reason": promotion.failure_reason,
        "finished_at": promotion.finished_at.isoformat() if promotion.finished_at else None,
        "warnings": _warnings(promotion),
    }


def _warnings(promotion: Promotion) -> list[str]:
    """Tell automation what the promotion page tells people: an approved promotion that no worker will pick up."""
    return job_waiting_warnings(promotion, queue="repo", waiting_since=promotion.waiting_since)


def _refused(exc: PromotionError) -> JsonResponse:
    return _error(409 if isinstance(exc, PromotionConflict) else 400, str(exc))


@require_POST
@token_required
def promotion_create(request: HttpRequest) -> JsonResponse:
    """POST {"checksum", "comment"?, "expedited"?, "expedite_reason"?} -> the new request (201); approvers decide."""
    if not request.user.has_perm("releases.request_promotion"):
        return _error(403, "This token's user may not request promotions.")
    try:
        data = _body(request)
        promotion = promotions.promotion_request(
            user=request.user,
            checksum=str(data.get("checksum", "")),
            comment=str(data.get("comment", "")),
            expedited=bool(data.get("expedited", False)),
            expedite_reason=str(data.get("expedite_reason", "")),
            via="api",
        )
    except PromotionError as exc:
        return _refused(exc)
    return JsonResponse(promotion_json(promotion), status=201)


@require_POST
@token_required
def rollback_create(request: HttpRequest) -> JsonResponse:
    """POST {"checksum", "comment"?} -> a rollback request to the tree of an earlier prod commit (201)."""
    if not request.user.has_perm("releases.request_promotion"):
        return _error(403, "This token's user may not request rollbacks.")
    try:
        data = _body(request)
        promotion = rollbacks.rollback_request(
            user=request.user, checksum=str(data.get("checksum", "")), comment=str(data.get("comment", "")), via="api"
        )
    except PromotionError as exc:
        return _refused(exc)
    return JsonResponse(promotion_json(promotion), status=201)


def _promotion(pk: int) -> Promotion | None:
    """Return the promotion with what promotion_json reads, or None."""
    return (
        Promotion.objects.select_related("commit", "target_stage", "requested_by", "published_commit")
        .filter(pk=pk)
        .first()
    )


@require_GET
@token_required
def promotion_status(request: HttpRequest, pk: int) -> JsonResponse:
    if not request.user.has_perm("releases.view_promotion"):
        return _error(403, "This token's user may not view promotions.")
    promotion = _promotion(pk)
    if promotion is None:
        return _error(404, f"No promotion #{pk}.")
    return JsonResponse(promotion_json(promotion))


def _vote(request: HttpRequest, pk: int, decide: Callable[..., Promotion]) -> JsonResponse:
    if not request.user.has_perm("releases.approve_promotion"):
        return _error(403, "Only members of the approvers group may approve or reject promotions.")
    promotion = _promotion(pk)
    if promotion is None:
        return _error(404, f"No promotion #{pk}.")
    try:
        data = _body(request)
        promotion = decide(user=request.user, promotion=promotion, comment=str(data.get("comment", "")))
    except PromotionError as exc:
        return _refused(exc)
    return JsonResponse(promotion_json(promotion))


@require_POST
@token_required
def promotion_approve(request: HttpRequest, pk: int) -> JsonResponse:
    return _vote(request, pk, approvals.approval_grant)


@require_POST
@token_required
def promotion_reject(request: HttpRequest, pk: int) -> JsonResponse:
    return _vote(request, pk, approvals.approval_reject)
