"""Which ref each desktop should follow: its ring's ref once that exists, else the plain stage ref.

The check-in answer names it (``PORTAL_CHECKIN_ANSWER``); the agent rebases when its origin differs. A ring's ref
exists from the first rollout that reached the ring; before that the ring's hosts stay on the stage ref, which
holds the same commit they would get. Desktops follow the last stage that has rings (prod).
"""

from __future__ import annotations

from typing import Any

from kinoite_portal.fleet.models import Host
from kinoite_portal.releases.models import Ref, Treefile
from kinoite_portal.rollouts.models import Ring, ring_ref
from kinoite_portal.rollouts.selectors import ring_for_host


def host_follow_ref(*, host: Host) -> str | None:
    """Return the ref ``host`` should follow, or None when rings do not concern it (no rings, another source)."""
    if not host.booted_ref or host.booted_is_container:
        return None
    rings = list(Ring.objects.select_related("stage").order_by("-stage__order", "order"))
    if not rings:
        return None
    stage = rings[0].stage
    names = [ring.name for ring in rings if ring.stage_id == stage.pk]
    published = set(Treefile.objects.values_list("published_ref", flat=True))
    base = next(
        (ref for ref in published if host.booted_ref == ref or host.booted_ref in {ring_ref(ref, n) for n in names}),
        None,
    )
    if base is None:
        return None
    ring = ring_for_host(host=host, stage=stage)
    if ring is None:
        return base
    target = ring.ref_for(base)
    return target if Ref.objects.filter(stage=stage, name=target, head__isnull=False).exists() else base


def checkin_answer(*, host: Host) -> dict[str, Any]:
    """Return the fields rings add to a check-in answer: ``follow_ref`` when the host should follow a given ref."""
    follow = host_follow_ref(host=host)
    return {"follow_ref": follow} if follow else {}
