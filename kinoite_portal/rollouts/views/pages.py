"""The rings on the rollout page: per ring progress and gate, the timeline, and where each department stands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from kinoite_portal.core.charts import Marker, StackedChart
from kinoite_portal.core.htmx import render_poll
from kinoite_portal.fleet import selectors as fleet_selectors
from kinoite_portal.fleet.sections import RolloutSection
from kinoite_portal.releases.models import Promotion
from kinoite_portal.rollouts import selectors
from kinoite_portal.rollouts.models import Rollout, RolloutEvent
from kinoite_portal.rollouts.selectors import Arrival, Gate, RingProgress

CHANGED = "rolloutChanged"
POLL_SECONDS = 15
GATE_TONES = {
    Gate.WAITING: "muted",
    Gate.MOVING: "busy",
    Gate.SOAKING: "busy",
    Gate.BLOCKED: "bad",
    Gate.AWAITING_APPROVAL: "info",
    Gate.OPEN: "ok",
    Gate.PASSED: "ok",
    Gate.FAILING: "bad",
    Gate.HALTED: "bad",
    Gate.PAUSED: "muted",
}
GATE_LABELS = {Gate.AWAITING_APPROVAL: "awaiting approval", Gate.FAILING: "failing"}
# The host categories of a ring, in bar order, with their labels.
RING_CATEGORIES = [
    ("succeeded", "Succeeded"),
    ("failed", "Failed"),
    ("timed_out", "Timed out"),
    ("pending", "Pending"),
    ("silent", "Silent"),
]
HALT_EVENTS: dict[str, str] = {RolloutEvent.Kind.HALTED: "halt", RolloutEvent.Kind.ROLLED_BACK: "rollback"}


@dataclass(frozen=True)
class RingCard:
    """One ring as the page draws it."""

    progress: RingProgress
    arrival: Arrival | None
    departments: list[str]
    chart: StackedChart | None

    @property
    def ring(self) -> Any:
        return self.progress.ring

    @property
    def gate_tone(self) -> str:
        return GATE_TONES.get(self.progress.gate, "muted")

    @property
    def gate_label(self) -> str:
        return GATE_LABELS.get(self.progress.gate, self.progress.gate)

    @property
    def segments(self) -> list[tuple[str, str, int, float, float]]:
        """Return (category, label, hosts, start, width) of the non-empty parts of a 100-wide bar."""
        total = self.progress.total
        out, start = [], 0.0
        for name, label in RING_CATEGORIES:
            count = getattr(self.progress, name)
            if count and total:
                width = 100.0 * count / total
                out.append((name, label, count, round(start, 2), round(width, 2)))
                start += width
        return out

    @property
    def counts(self) -> list[tuple[str, str, int]]:
        return [(name, label, getattr(self.progress, name)) for name, label in RING_CATEGORIES]


def ring_rollout_context(
    request: HttpRequest, *, rollout: Rollout | None = None, error: str = "", requested: Any = ()
) -> dict[str, Any] | None:
    """Return the context of the rings section for this user, or None when the stage has no rings."""
    user = request.user
    sees_all = user.has_perm("fleet.view_all_departments")
    # IT staff read each ring's departments on its card; a department head gets a line per department they head.
    departments = [] if sees_all else list(fleet_selectors.visible_departments(user))
    stage = rollout.stage if rollout is not None else fleet_selectors.prod_stage()
    page = selectors.rollout_page(stage=stage, departments=departments, rollout=rollout)
    if page is None:
        return None
    names = {ring.pk: [d.name for d in ring.departments.all()] for ring in page.rings}
    charts: dict[str, StackedChart] = {}
    if sees_all and page.rollout is not None:
        moved = [item.ring.ref for item in page.progress if item.ring.moved_at is not None]
        halts = [
            Marker(at=event.created_at, label=event.message or event.get_kind_display(), kind=HALT_EVENTS[event.kind])
            for event in page.events
            if event.kind in HALT_EVENTS
        ]
        histories = fleet_selectors.adoption_history_per_ref(refs=moved, highlight=page.rollout.commit.checksum)
        charts = {ref: history.chart(halts) for ref, history in histories.items()}
    cards = [
        RingCard(
            progress=item,
            arrival=page.arrivals.get(item.ring.pk),
            departments=names.get(item.ring.ring_id or 0, []),
            chart=charts.get(item.ring.ref),
        )
        for item in page.progress
    ]
    return {
        "ring_page": page,
        "rollout": page.rollout,
        "cards": cards,
        "sees_all": sees_all,
        "can_manage": user.has_perm("rollouts.manage_rollout"),
        # A rollback is a rollback request like any other: release engineers ask, approvers decide.
        "can_roll_back": user.has_perm("releases.request_promotion"),
        "error": error,
        "requested": list(requested) or _open_rollbacks(page),
        "poll_seconds": POLL_SECONDS,
        "ring_categories": RING_CATEGORIES,
    }


def _open_rollbacks(page: selectors.RolloutPage) -> list[Promotion]:
    """Return the rollback requests still open for a halted rollout's moved rings (the button then gives way)."""
    rollout = page.rollout
    if rollout is None or rollout.state != Rollout.State.HALTED or not page.moved_rings:
        return []
    refs = [rollout.stage_ref, *(ring.ref for ring in page.moved_rings)]
    return list(
        Promotion.objects.filter(
            kind=Promotion.Kind.ROLLBACK,
            target_stage=rollout.stage,
            target_ref__in=refs,
            state__in=Promotion.OPEN_STATES,
            requested_at__gte=rollout.created_at,
        ).order_by("pk")
    )


def rollout_section(request: HttpRequest) -> RolloutSection | None:
    """Add the stage's rings to the rollout page (named in ``PORTAL_ROLLOUT_SECTIONS``)."""
    context = ring_rollout_context(request)
    return RolloutSection(template="rollouts/_ring_rollout.html", context=context) if context else None


@require_GET
@permission_required("fleet.view_rollout", raise_exception=True)
def rollout_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One rollout on a page of its own (the rollout page shows the latest); promotions link here."""
    rollout = get_object_or_404(
        Rollout.objects.select_related("stage", "commit", "previous_commit", "promotion"), pk=pk
    )
    context = ring_rollout_context(request, rollout=rollout)
    if getattr(request, "htmx", False) and request.GET.get("part") == "section" and context:
        return render(request, "rollouts/_ring_rollout.html", {"section_context": context})
    return render(
        request, "rollouts/rollout_detail.html", {"section": "rollout", "rollout": rollout, "section_context": context}
    )


@require_GET
@permission_required("fleet.view_rollout", raise_exception=True)
def rollout_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The rings' live part, polled while the rollout is active; tells the page when the rollout's state changed."""
    rollout = get_object_or_404(
        Rollout.objects.select_related("stage", "commit", "previous_commit", "promotion"), pk=pk
    )
    context = ring_rollout_context(request, rollout=rollout)
    changed = request.GET.get("state") not in (None, rollout.state)
    return render_poll(
        request,
        "rollouts/_ring_status.html",
        {"section_context": context},
        finished=not rollout.is_active,
        event=CHANGED if changed else "",
    )
