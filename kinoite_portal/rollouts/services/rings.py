"""Defining rings."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from kinoite_portal.core.audit import audit_record
from kinoite_portal.releases.models import Stage
from kinoite_portal.rollouts.models import DEFAULT_RING_NAMES, Ring
from kinoite_portal.rollouts.services.rollouts import RolloutError


def rings_create_defaults(*, stage: Stage, actor: Any = None) -> list[Ring]:
    """Give ``stage`` the default rings pilot -> early -> broad (24 h soak, 90 % success, 5 % failure halts).

    They start empty: every host is then in broad, the last ring, until an admin puts departments or single hosts
    into pilot and early.
    """
    with transaction.atomic():
        if Ring.objects.select_for_update().filter(stage=stage).exists():
            raise RolloutError(f"The {stage.name} stage already has rings; change them in the admin.")
        rings = [
            Ring.objects.create(stage=stage, name=name, order=index + 1)
            for index, name in enumerate(DEFAULT_RING_NAMES)
        ]
        audit_record(
            action="rings.create_defaults",
            actor=actor,
            obj=stage,
            message=" -> ".join(DEFAULT_RING_NAMES),
        )
    return rings
