from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.module_loading import import_string
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from kinoite_portal.core.htmx import HtmxHttpRequest, render_poll
from kinoite_portal.core.queues import queue_warning
from kinoite_portal.releases import selectors
from kinoite_portal.releases.errors import PromotionError
from kinoite_portal.releases.models import Commit, Promotion, Treefile
from kinoite_portal.releases.services import approvals, promotions, rollbacks
from kinoite_portal.releases.services.queueing import task_not_sent

CHANGED = "promotionChanged"
PROMOTIONS_PER_PAGE = 50


@require_GET
@permission_required("releases.view_promotion", raise_exception=True)
def promotion_list(request: HtmxHttpRequest) -> HttpResponse:
    """List the promotions, newest first, with what blocks each open request; ``?review=mine`` keeps the requests
    waiting for the viewer's vote."""
    mine = request.GET.get("review") == "mine"
    promotions_shown = selectors.promotion_list()
    if mine:
        promotions_shown = promotions_shown.filter(pk__in=selectors.promotions_needing_review(request.user))
    page = Paginator(promotions_shown, PROMOTIONS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "section": "promotions",
        "page": page,
        "promotions": page.object_list,
        "queue": selectors.promotion_queue_rows(list(page.object_list)),
        "mine": mine,
    }
    return render(request, "releases/promotion_list.html", context)


def _get(pk: int) -> Promotion:
    try:
        return selectors.promotion_detail(pk)
    except Promotion.DoesNotExist:
        raise Http404("No such promotion.") from None


# The regions of the promotion page that refresh on CHANGED; each reads the same panel context.
PARTS = {"panel": "releases/_promotion_panel.html", "timeline": "releases/_promotion_timeline.html"}


def _panel_context(request: HtmxHttpRequest, promotion: Promotion, error: str = "") -> dict[str, object]:
    user = request.user
    # Read once: the policy, the vote list and "may I vote" all look at the same votes.
    votes = selectors.promotion_votes(promotion, viewer=user)
    policy = approvals.promotion_policy(promotion, votes=votes)
    return {
        "promotion": promotion,
        "policy": policy,
        "timeline": selectors.promotion_timeline(promotion, policy),
        "outcome": selectors.promotion_outcome(promotion),
        "votes": votes,
        "error": error,
        "can_vote": selectors.promotion_can_vote(user, promotion, votes=votes),
        "is_requester": user.pk == promotion.requested_by_id,
        "can_cancel": selectors.promotion_can_cancel(user, promotion),
    }


@require_GET
@permission_required("releases.view_promotion", raise_exception=True)
def promotion_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    promotion = _get(pk)
    if request.htmx and request.GET.get("part") in PARTS:
        return render(request, PARTS[request.GET["part"]], _panel_context(request, promotion))
    # Against what the target ran before the run (or runs now): what changes for clients, for a rollback too.
    compared_to = promotion.previous_head or selectors.target_head_for(promotion.treefile, promotion.target_stage)
    # What desktops say about the commit is the fleet's to know (it sits above releases): a setting names it.
    pilot_evidence = import_string(settings.PORTAL_PROMOTION_EVIDENCE_PROVIDER)
    context = {
        "section": "promotions",
        **_panel_context(request, promotion),
        "evidence": selectors.commit_evidence(promotion.commit, against=compared_to),
        "pilot": pilot_evidence(checksum=promotion.commit.checksum),
        "superseded_by": selectors.promotion_superseded_by(promotion),
        "queue_warning": _queue_warning(promotion),
    }
    return render(request, "releases/promotion_detail.html", context)


@require_GET
@permission_required("releases.view_promotion", raise_exception=True)
def promotion_log(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    promotion = get_object_or_404(Promotion, pk=pk)
    finished = promotion.state in Promotion.FINISHED_STATES
    context = {"promotion": promotion, "queue_warning": _queue_warning(promotion)}
    return render_poll(request, "releases/_promotion_log.html", context, finished=finished, event=CHANGED)


def _queue_warning(promotion: Promotion) -> str | None:
    """Say so when an approved promotion waits for a worker on the repo queue that nobody consumes."""
    return queue_warning("repo", waiting_since=promotion.waiting_since)


def _decide(request: HtmxHttpRequest, pk: int, decide: Callable[..., Promotion], *, done: str) -> HttpResponse:
    """Run one decision service on the promotion; answer htmx with the panel (and CHANGED), others with a redirect."""
    error = ""
    try:
        decide(user=request.user, promotion=_get(pk), comment=request.POST.get("comment", ""))
    except PromotionError as exc:
        error = str(exc)
    promotion = _get(pk)
    if not error:
        if promotion.state == Promotion.State.QUEUED and task_not_sent(promotion):
            messages.warning(
                request,
                f"Promotion #{pk} is approved, but the worker could not be reached; "
                "it will start when the queue is back.",
            )
        else:
            # Confirm what was recorded and where that leaves the promotion, on the page and as a message.
            messages.success(request, f"{done} {selectors.promotion_outcome(promotion)}")
    if request.htmx:
        context = {**_panel_context(request, promotion, error), "voted": not error}
        response = render(request, "releases/_promotion_panel.html", context)
        return response if error else trigger_client_event(response, CHANGED)
    if error:
        messages.error(request, error)
    return redirect("releases:promotion_detail", pk=pk)


@require_POST
@permission_required("releases.approve_promotion", raise_exception=True)
def promotion_approve(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, approvals.approval_grant, done=f"Your approval of #{pk} is recorded.")


@require_POST
@permission_required("releases.approve_promotion", raise_exception=True)
def promotion_reject(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, approvals.approval_reject, done=f"Your reject of #{pk} is recorded.")


@require_POST
@permission_required("releases.view_promotion", raise_exception=True)
def promotion_cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Cancel a request; the service lets only the requester or a release engineer do it."""
    return _decide(request, pk, promotions.promotion_cancel, done=f"Request #{pk} is cancelled.")


@require_POST
@permission_required("releases.request_promotion", raise_exception=True)
def promotion_create(request: HtmxHttpRequest, checksum: str) -> HttpResponse:
    commit = get_object_or_404(Commit, checksum=checksum)
    try:
        promotion = promotions.promotion_request(
            user=request.user,
            checksum=commit.checksum,
            treefile=_picked_treefile(request.POST.get("treefile", "")),
            comment=request.POST.get("comment", ""),
            expedited=request.POST.get("expedited") in {"on", "1", "true"},
            expedite_reason=request.POST.get("expedite_reason", ""),
        )
    except PromotionError as exc:
        messages.error(request, str(exc))
        return redirect("releases:commit_detail", checksum=commit.checksum)
    messages.success(request, f"Promotion #{promotion.pk} requested; approvers were notified.")
    return redirect("releases:promotion_detail", pk=promotion.pk)


def _picked_treefile(name: str) -> Treefile | None:
    """Return the treefile the requester picked where the commit's refs do not say (none picked: None)."""
    if not name:
        return None
    treefile = Treefile.objects.filter(name=name).first()
    if treefile is None:
        raise PromotionError(f"There is no treefile {name!r}; nothing was requested.")
    return treefile


@require_POST
@permission_required("releases.request_promotion", raise_exception=True)
def rollback_create(request: HtmxHttpRequest, checksum: str) -> HttpResponse:
    commit = get_object_or_404(Commit, checksum=checksum)
    try:
        promotion = rollbacks.rollback_request(
            user=request.user, checksum=commit.checksum, comment=request.POST.get("comment", "")
        )
    except PromotionError as exc:
        messages.error(request, str(exc))
        return redirect("releases:commit_detail", checksum=commit.checksum)
    messages.success(request, f"Rollback #{promotion.pk} requested; approvers were notified.")
    return redirect("releases:promotion_detail", pk=promotion.pk)
