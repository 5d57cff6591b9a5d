"""How a promotion publishes on a stage with rings (the ``PORTAL_PUBLISH_PLAN_PROVIDER`` hook of releases)."""

from __future__ import annotations

from kinoite_portal.releases.models import Promotion, Stage, Treefile
from kinoite_portal.releases.publishing import PublishPlan
from kinoite_portal.rollouts.models import Ring, ring_ref


def ring_publish_plan(*, stage: Stage, ref: str, kind: str) -> PublishPlan:
    """Return which ref a run moves and which refs it binds on ``stage``.

    A promotion moves the first ring's ref and binds the commit to every other ring's ref and to the stage ref, so
    every ring later gets the same checksum. A rollback of the stage ref moves it and binds every ring's ref: the
    rollout that follows moves all rings at once. A ring's own ref (a rollback of one ring) and a stage without
    rings publish as before.
    """
    names = list(Ring.objects.filter(stage=stage).order_by("order").values_list("name", flat=True))
    if not names or not Treefile.objects.filter(published_ref=ref).exists():
        return PublishPlan(move_ref=ref)
    ring_refs = [ring_ref(ref, name) for name in names]
    if kind == Promotion.Kind.ROLLBACK:
        return PublishPlan(move_ref=ref, bind_refs=ring_refs)
    return PublishPlan(move_ref=ring_refs[0], bind_refs=[*ring_refs[1:], ref])
