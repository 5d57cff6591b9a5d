"""Which ref each desktop should follow: its ring's ref once that exists, else the plain stage ref.

The check-in answer names it (``PORTAL_CHECKIN_ANSWER_PROVIDER``); the agent rebases when its origin differs. A
ring's ref exists from the first rollout that reached the ring; before that the ring's hosts stay on the stage ref,
which holds the same commit they would get. Desktops follow the last stage that has rings (prod).

Every check-in asks, so the ring layout (the stage with rings, their names, the published refs) is kept for a few
seconds per process; a change saved in this process is seen at once, in the others within ``LAYOUT_SECONDS``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from django.db.models.signals import post_delete, post_save

from kinoite_portal.fleet.models import Host
from kinoite_portal.releases.models import Ref, Treefile
from kinoite_portal.rollouts.models import Ring, ring_ref
from kinoite_portal.rollouts.selectors import ring_for_host

LAYOUT_SECONDS = 5.0


@dataclass(frozen=True)
class _Layout:
    stage_id: int
    ring_names: tuple[str, ...]
    published_refs: frozenset[str]


_lock = threading.Lock()
_cached: tuple[float, _Layout | None] | None = None


def _layout() -> _Layout | None:
    global _cached
    with _lock:
        if _cached is not None and time.monotonic() - _cached[0] < LAYOUT_SECONDS:
            return _cached[1]
    rings = list(Ring.objects.order_by("-stage__order", "order").values_list("stage_id", "name"))
    layout = None
    if rings:
        stage_id = rings[0][0]
        layout = _Layout(
            stage_id=stage_id,
            ring_names=tuple(name for ring_stage, name in rings if ring_stage == stage_id),
            published_refs=frozenset(Treefile.objects.values_list("published_ref", flat=True)),
        )
    with _lock:
        _cached = (time.monotonic(), layout)
    return layout


def layout_forget(**_: Any) -> None:
    """Drop the kept layout (connected to saves and deletes of rings and treefiles)."""
    global _cached
    with _lock:
        _cached = None


for _model in (Ring, Treefile, Ring.departments.through, Ring.hosts.through):
    post_save.connect(layout_forget, sender=_model, dispatch_uid=f"rollouts.layout.save.{_model.__name__}")
    post_delete.connect(layout_forget, sender=_model, dispatch_uid=f"rollouts.layout.delete.{_model.__name__}")


def host_follow_ref(*, host: Host) -> str | None:
    """Return the ref ``host`` should follow, or None when rings do not concern it (no rings, another source)."""
    if not host.booted_ref or host.booted_is_container:
        return None
    layout = _layout()
    if layout is None:
        return None
    base = next(
        (
            ref
            for ref in layout.published_refs
            if host.booted_ref == ref or host.booted_ref in {ring_ref(ref, name) for name in layout.ring_names}
        ),
        None,
    )
    if base is None:
        return None
    from kinoite_portal.releases.models import Stage

    ring = ring_for_host(host=host, stage=Stage(pk=layout.stage_id))
    if ring is None:
        return base
    target = ring_ref(base, ring.name)
    exists = Ref.objects.filter(stage_id=layout.stage_id, name=target, head__isnull=False).exists()
    return target if exists else base


def checkin_answer(*, host: Host) -> dict[str, Any]:
    """Return the fields rings add to a check-in answer: ``follow_ref`` when the host should follow a given ref."""
    follow = host_follow_ref(host=host)
    return {"follow_ref": follow} if follow else {}
