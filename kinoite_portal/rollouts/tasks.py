"""Rollout tasks: ring moves on the ``repo`` queue, gate evaluation on ``default``; thin wrappers over services."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.app.task import Task

from kinoite_portal.ostree import LockTimeout


@shared_task(name="rollouts.ring_move", bind=True, acks_late=True, max_retries=30)
def ring_move_task(self: Task[Any, Any], rollout_ring_id: int) -> str:
    """Move one ring's ref; safe to run twice (a moved ring returns at once)."""
    from kinoite_portal.rollouts.services.rollouts import rollout_ring_move

    try:
        return str(rollout_ring_move(rollout_ring_id=int(rollout_ring_id)).state)
    except LockTimeout as exc:
        # A promotion, compose or prune writes this repo: try again shortly.
        raise self.retry(exc=exc, countdown=5) from exc


@shared_task(name="rollouts.evaluate_gates", acks_late=True)
def evaluate_gates_task() -> dict[str, list[str]]:
    """Halt rollouts whose failures crossed a threshold and move the next ring where a gate opened."""
    from kinoite_portal.rollouts.services.rollouts import rollouts_evaluate

    return {str(pk): actions for pk, actions in rollouts_evaluate().items()}
