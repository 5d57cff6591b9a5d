from __future__ import annotations

from typing import Any

from django.apps import AppConfig


def _on_promotion_published(*, promotion: Any, **_: Any) -> None:
    from kinoite_portal.releases.models import Promotion
    from kinoite_portal.rollouts.services.rollouts import rollout_ring_restored, rollout_start

    if promotion.bound_refs:
        rollout_start(promotion=promotion)
    elif promotion.kind == Promotion.Kind.ROLLBACK:
        rollout_ring_restored(promotion=promotion)


class RolloutsConfig(AppConfig):
    name = "kinoite_portal.rollouts"
    label = "rollouts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # releases and fleet send these; they never import rollouts.
        from kinoite_portal.fleet.signals import host_checked_in
        from kinoite_portal.releases.publishing import promotion_published
        from kinoite_portal.rollouts.triggers import gates_evaluate_soon

        promotion_published.connect(_on_promotion_published, dispatch_uid="rollouts.promotion_published")
        host_checked_in.connect(gates_evaluate_soon, dispatch_uid="rollouts.host_checked_in")
