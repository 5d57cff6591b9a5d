"""The rollout JSON API for automation: list rings and rollouts, pause, resume, advance, halt, roll back.

Bearer-token only, like the promotion API (``releases.api.token_required``): the request acts as the token's user
with exactly that user's permissions. Errors: 400 bad input, 403 not allowed, 404 unknown, 409 the rollout's state
forbids it; nothing changes on an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from kinoite_portal.releases.api import promotion_json, token_required
from kinoite_portal.releases.errors import PromotionError
from kinoite_portal.rollouts.models import Rollout
from kinoite_portal.rollouts.selectors import RingProgress, ring_progress, rings_with_members, rollouts_recent
from kinoite_portal.rollouts.services.rollouts import (
    RolloutConflict,
    RolloutError,
    rollout_advance,
    rollout_halt,
    rollout_pause,
    rollout_resume,
    rollout_rollback,
)


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise RolloutError("The body must be a JSON object.") from None
    if not isinstance(data, dict):
        raise RolloutError("The body must be a JSON object.")
    return data


def _seconds(value: Any) -> float | None:
    return value.total_seconds() if value is not None else None


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def ring_progress_json(item: RingProgress) -> dict[str, Any]:
    ring = item.ring
    return {
        "name": ring.name,
        "order": ring.order,
        "ref": ring.ref,
        "state": ring.state,
        "gate": item.gate,
        "opens_in_seconds": _seconds(item.opens_in),
        "moved_at": _when(ring.moved_at),
        "hosts": {
            "succeeded": item.succeeded,
            "failed": item.failed,
            "pending": item.pending,
            "timed_out": item.timed_out,
            "silent": item.silent,
            "active": item.active,
        },
        "soak_seconds": ring.soak_time.total_seconds(),
        "success_threshold": ring.success_threshold,
        "failure_threshold": ring.failure_threshold,
        "update_timeout_seconds": ring.update_timeout.total_seconds(),
        "auto_advance": ring.auto_advance,
        "advance_reason": ring.advance_reason,
    }


def rollout_json(rollout: Rollout, *, with_rings: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": rollout.pk,
        "state": rollout.state,
        "stage": rollout.stage.name,
        "stage_ref": rollout.stage_ref,
        "checksum": rollout.commit.checksum,
        "version": rollout.commit.version,
        "previous_checksum": rollout.previous_commit.checksum if rollout.previous_commit else None,
        "promotion": rollout.promotion_id,
        "created_at": rollout.created_at.isoformat(),
        "finished_at": _when(rollout.finished_at),
        "halted_at": _when(rollout.halted_at),
        "halt_reason": rollout.halt_reason,
    }
    if with_rings:
        data["rings"] = [ring_progress_json(item) for item in ring_progress(rollout)]
    return data


def _rollout(pk: int) -> Rollout | None:
    return Rollout.objects.select_related("stage", "commit", "previous_commit").filter(pk=pk).first()


@require_GET
@token_required
def ring_list(request: HttpRequest) -> JsonResponse:
    """GET -> every stage's rings in order, with their members and gates."""
    if not request.user.has_perm("rollouts.view_ring"):
        return _error(403, "This token's user may not view rings.")
    rings = [
        {
            "stage": ring.stage.name,
            "name": ring.name,
            "order": ring.order,
            "departments": [department.slug for department in ring.departments.all()],
            "hosts": [host.hostname for host in ring.hosts.all()],
            "soak_seconds": ring.soak_time.total_seconds(),
            "success_threshold": ring.success_threshold,
            "failure_threshold": ring.failure_threshold,
            "update_timeout_seconds": ring.update_timeout.total_seconds(),
            "auto_advance": ring.auto_advance,
        }
        for ring in rings_with_members()
    ]
    return JsonResponse({"rings": rings})


@require_GET
@token_required
def rollout_list(request: HttpRequest) -> JsonResponse:
    """GET -> the latest rollouts, newest first (``?active=1``: only running, paused or halted ones)."""
    if not request.user.has_perm("rollouts.view_rollout"):
        return _error(403, "This token's user may not view rollouts.")
    rollouts = rollouts_recent(active_only=request.GET.get("active") in {"1", "true", "yes"})
    return JsonResponse({"rollouts": [rollout_json(rollout, with_rings=False) for rollout in rollouts]})


@require_GET
@token_required
def rollout_detail(request: HttpRequest, pk: int) -> JsonResponse:
    """GET -> one rollout with its rings' progress and gates."""
    if not request.user.has_perm("rollouts.view_rollout"):
        return _error(403, "This token's user may not view rollouts.")
    rollout = _rollout(pk)
    if rollout is None:
        return _error(404, f"No rollout #{pk}.")
    return JsonResponse(rollout_json(rollout))


def _act(request: HttpRequest, pk: int, action: Callable[[Any, Rollout, dict[str, Any]], Any]) -> JsonResponse:
    if not request.user.has_perm("rollouts.manage_rollout"):
        return _error(403, "Only approvers may pause, resume, advance or halt rollouts.")
    rollout = _rollout(pk)
    if rollout is None:
        return _error(404, f"No rollout #{pk}.")
    try:
        action(request.user, rollout, _body(request))
    except (RolloutError, PromotionError) as exc:
        return _error(409 if isinstance(exc, RolloutConflict) else 400, str(exc))
    refreshed = _rollout(pk)
    assert refreshed is not None
    return JsonResponse(rollout_json(refreshed))


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise RolloutError(f"'{key}' must be a string.")
    return value


@require_POST
@token_required
def rollout_pause_view(request: HttpRequest, pk: int) -> JsonResponse:
    """POST {"reason"?} -> the paused rollout."""
    return _act(
        request, pk, lambda user, rollout, data: rollout_pause(user=user, rollout=rollout, reason=_text(data, "reason"))
    )


@require_POST
@token_required
def rollout_resume_view(request: HttpRequest, pk: int) -> JsonResponse:
    """POST {"reason"} -> the running rollout (a reason is needed after a halt)."""
    return _act(
        request,
        pk,
        lambda user, rollout, data: rollout_resume(user=user, rollout=rollout, reason=_text(data, "reason")),
    )


@require_POST
@token_required
def rollout_advance_view(request: HttpRequest, pk: int) -> JsonResponse:
    """POST {"reason", "ring"?} -> the rollout, its next ring (or ``ring``, which must be next) moving now."""

    def advance(user: Any, rollout: Rollout, data: dict[str, Any]) -> Any:
        ring = data.get("ring")
        if ring is not None and not isinstance(ring, str):
            raise RolloutError("'ring' must be a ring name.")
        return rollout_advance(user=user, rollout=rollout, reason=_text(data, "reason"), ring_name=ring)

    return _act(request, pk, advance)


@require_POST
@token_required
def rollout_halt_view(request: HttpRequest, pk: int) -> JsonResponse:
    """POST {"reason"} -> the halted rollout."""
    return _act(
        request, pk, lambda user, rollout, data: rollout_halt(user=user, rollout=rollout, reason=_text(data, "reason"))
    )


@require_POST
@token_required
def rollout_rollback_view(request: HttpRequest, pk: int) -> JsonResponse:
    """POST {"comment"?} -> the rollback requests (201) for the rings a halted rollout moved; approvers decide."""
    if not request.user.has_perm("releases.request_promotion"):
        return _error(403, "This token's user may not request rollbacks (release engineers only).")
    rollout = _rollout(pk)
    if rollout is None:
        return _error(404, f"No rollout #{pk}.")
    try:
        data = _body(request)
        promotions = rollout_rollback(user=request.user, rollout=rollout, comment=_text(data, "comment"))
    except (RolloutError, PromotionError) as exc:
        return _error(409 if isinstance(exc, RolloutConflict) else 400, str(exc))
    return JsonResponse({"rollbacks": [promotion_json(promotion) for promotion in promotions]}, status=201)
