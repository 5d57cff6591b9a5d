"""What approvers do to a running rollout: pause, resume, advance the next ring early, halt, roll moved rings back.

Each view calls one service, which checks the permission and the rollout's state under a row lock, so a second
click (or a second approver) gets a clear refusal instead of a second action. htmx gets the rings section back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from kinoite_portal.rollouts.models import Rollout
from kinoite_portal.rollouts.services import rollouts as services
from kinoite_portal.rollouts.services.rollouts import RolloutError
from kinoite_portal.rollouts.views.pages import ring_rollout_context


def _act(request: HttpRequest, pk: int, action: Callable[[Rollout, str], Any], done: str) -> HttpResponse:
    """Run ``action`` on the rollout; answer htmx with the rings section, plain forms with a redirect."""
    rollout = get_object_or_404(Rollout.objects.select_related("stage", "commit", "promotion"), pk=pk)
    reason = request.POST.get("reason", "")[:2000]
    error, result = "", None
    try:
        result = action(rollout, reason)
    except RolloutError as exc:
        error = str(exc)
    requested = result if isinstance(result, list) else []
    if getattr(request, "htmx", False):
        rollout.refresh_from_db()
        context = ring_rollout_context(request, rollout=rollout, error=error, requested=requested)
        return render(request, "rollouts/_ring_rollout.html", {"section_context": context})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect("rollouts:detail", pk=pk)


@require_POST
@permission_required("rollouts.manage_rollout", raise_exception=True)
def rollout_pause(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda rollout, reason: services.rollout_pause(user=request.user, rollout=rollout, reason=reason),
        "Rollout paused: no ring moves until it is resumed.",
    )


@require_POST
@permission_required("rollouts.manage_rollout", raise_exception=True)
def rollout_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda rollout, reason: services.rollout_resume(user=request.user, rollout=rollout, reason=reason),
        "Rollout resumed.",
    )


@require_POST
@permission_required("rollouts.manage_rollout", raise_exception=True)
def rollout_advance(request: HttpRequest, pk: int) -> HttpResponse:
    # The ring the button named: a second click then finds it already moving and is refused.
    ring = request.POST.get("ring", "")[:50] or None
    return _act(
        request,
        pk,
        lambda rollout, reason: services.rollout_advance(
            user=request.user, rollout=rollout, reason=reason, ring_name=ring
        ),
        "The next ring is being moved now.",
    )


@require_POST
@permission_required("rollouts.manage_rollout", raise_exception=True)
def rollout_halt(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda rollout, reason: services.rollout_halt(user=request.user, rollout=rollout, reason=reason),
        "Rollout halted: no ring moves until it is resumed.",
    )


@require_POST
@permission_required("releases.request_promotion", raise_exception=True)
def rollout_rollback(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda rollout, reason: services.rollout_rollback(user=request.user, rollout=rollout, comment=reason),
        "Rollback of the moved rings requested; it needs an approver's vote.",
    )
