"""Which ref each desktop should follow: its ring's ref once that exists, else the plain stage ref.

The check-in answer names it (``PORTAL_CHECKIN_ANSWER_PROVIDER``); the agent rebases when its origin differs. A
ring's ref exists from the first rollout that reached the ring; before that the ring's hosts stay on the stage ref,
which holds the same commit they would get. Desktops follow the last stage that has rings (prod). On an OCI stage
the refs are tags: a bootc desktop booted from REGISTRY/REPOSITORY:TAG of that stage is told the tag to follow.

Every check-in asks, so the ring layout (the stage with rings, their names and members, the published refs) is kept
for a few seconds per process; a change saved in this process is seen at once, in the others within
``LAYOUT_SECONDS``. The ring a host is in follows the rule of ``selectors.hosts_with_ring``, from the layout and the
host's own department, so a check-in asks the database only whether its ring's ref exists yet (the worker creates
it when the rollout reaches the ring, and a host must hear of it at its next check-in).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from django.db.models.signals import post_delete, post_save

from kinoite_portal.fleet.models import Host
from kinoite_portal.releases.models import Ref, Stage, Treefile, image_source
from kinoite_portal.rollouts.models import Ring, ring_ref
from kinoite_portal.rollouts.selectors import department_rings, ring_members

LAYOUT_SECONDS = 5.0


@dataclass(frozen=True)
class _Layout:
    stage_id: int
    ring_names: tuple[str, ...]
    published_refs: frozenset[str]
    host_rings: dict[int, str]  # single hosts: the first ring that lists them
    department_rings: dict[int, str]  # departments: the first ring that lists them
    image_name: str = ""  # REGISTRY/REPOSITORY of an OCI stage: bootc desktops following it follow its tags

    def ring_of(self, host: Host) -> str:
        """Return the name of the ring ``host`` is in: listed, else by department, else the last ring."""
        listed = self.host_rings.get(host.pk)
        if listed is not None:
            return listed
        return self.department_rings.get(host.department_id, self.ring_names[-1])


_lock = threading.Lock()
_cached: tuple[float, _Layout | None] | None = None


def _layout() -> _Layout | None:
    global _cached
    with _lock:
        if _cached is not None and time.monotonic() - _cached[0] < LAYOUT_SECONDS:
            return _cached[1]
    rings = list(
        Ring.objects.order_by("-stage__order", "order").values_list(
            "stage_id", "name", "stage__kind", "stage__image_registry", "stage__image_repository"
        )
    )
    layout = None
    if rings:
        stage_id, _, kind, registry, repository = rings[0]
        members = ring_members(Stage(pk=stage_id))
        host_rings: dict[int, str] = {}
        for ring in members.rings:  # in order: the first ring that lists a host wins
            for host_id in members.hosts.get(ring.pk, []):
                host_rings.setdefault(host_id, ring.name)
        layout = _Layout(
            stage_id=stage_id,
            ring_names=tuple(ring.name for ring in members.rings),
            published_refs=frozenset(Treefile.objects.values_list("published_ref", flat=True)),
            host_rings=host_rings,
            department_rings={pk: ring.name for pk, ring in department_rings(Stage(pk=stage_id), members).items()},
            image_name=image_source(kind=kind, registry=registry, repository=repository),
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


def _base_ref(host: Host, layout: _Layout | None) -> str | None:
    """Return the published ref whose rings ``host`` follows (it or one of its ring refs), or None.

    A desktop booted from a container image follows rings only when its image is the OCI stage's repository (its
    ``booted_ref`` is then the tag); any other image is not the portal's to steer.
    """
    if layout is None or not host.booted_ref:
        return None
    if host.booted_is_container and (not layout.image_name or host.booted_remote != layout.image_name):
        return None
    return next(
        (
            ref
            for ref in layout.published_refs
            if host.booted_ref == ref or host.booted_ref in {ring_ref(ref, name) for name in layout.ring_names}
        ),
        None,
    )


def host_ring_stage(*, host: Host) -> int | None:
    """Return the id of the stage with rings whose refs ``host`` follows, or None (no query while layout is kept)."""
    layout = _layout()
    return layout.stage_id if layout is not None and _base_ref(host, layout) is not None else None


def host_follow_ref(*, host: Host) -> str | None:
    """Return the ref ``host`` should follow, or None when rings do not concern it (no rings, another source)."""
    layout = _layout()
    base = _base_ref(host, layout)
    if layout is None or base is None:
        return None
    target = ring_ref(base, layout.ring_of(host))
    exists = Ref.objects.filter(stage_id=layout.stage_id, name=target, head__isnull=False).exists()
    return target if exists else base


def checkin_answer(*, host: Host) -> dict[str, Any]:
    """Return the fields rings add to a check-in answer: ``follow_ref`` when the host should follow a given ref."""
    follow = host_follow_ref(host=host)
    return {"follow_ref": follow} if follow else {}
