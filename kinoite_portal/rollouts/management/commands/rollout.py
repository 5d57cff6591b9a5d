from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kinoite_portal.releases.errors import PromotionError
from kinoite_portal.releases.management.commands._promotion_common import acting_user
from kinoite_portal.rollouts.models import Rollout
from kinoite_portal.rollouts.selectors import ring_progress, rollouts_recent
from kinoite_portal.rollouts.services.rollouts import (
    RolloutError,
    rollout_advance,
    rollout_halt,
    rollout_pause,
    rollout_resume,
    rollout_rollback,
)

ACTIONS = ("pause", "resume", "advance", "halt", "rollback")


def _rollout(pk: int) -> Rollout:
    rollout = Rollout.objects.select_related("stage", "commit", "previous_commit").filter(pk=pk).first()
    if rollout is None:
        raise CommandError(f"No rollout #{pk}.")
    return rollout


class Command(BaseCommand):
    help = (
        "Rollouts through the rings: list, show ID, or act on one as an approver "
        "(pause, resume, advance, halt; rollback requests the forward rollback of a halted rollout's rings)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=("list", "show", *ACTIONS))
        parser.add_argument("rollout_id", type=int, nargs="?")
        parser.add_argument("--as", dest="username", help="Portal user who acts (needed for every action).")
        parser.add_argument("--reason", default="", help="Why (needed to advance, halt, and resume after a halt).")
        parser.add_argument("--ring", help="advance: the ring you expect to move next (guards against doing it twice).")
        parser.add_argument("--active", action="store_true", help="list: only running, paused or halted rollouts.")

    def handle(self, *args: Any, **options: Any) -> None:
        action, pk = options["action"], options["rollout_id"]
        if action == "list":
            for rollout in rollouts_recent(active_only=options["active"]):
                self.stdout.write(self._line(rollout))
            return
        if pk is None:
            raise CommandError(f"'{action}' needs a rollout id.")
        rollout = _rollout(pk)
        if action != "show":
            if not options["username"]:
                raise CommandError(f"'{action}' needs --as USERNAME of a portal user.")
            self._act(action, acting_user(options["username"]), rollout, options)
            rollout = _rollout(pk)
        self._show(rollout)

    def _act(self, action: str, user: Any, rollout: Rollout, options: dict[str, Any]) -> None:
        reason = options["reason"]
        try:
            if action == "pause":
                rollout_pause(user=user, rollout=rollout, reason=reason)
            elif action == "resume":
                rollout_resume(user=user, rollout=rollout, reason=reason)
            elif action == "advance":
                ring = rollout_advance(user=user, rollout=rollout, reason=reason, ring_name=options["ring"])
                self.stdout.write(self.style.SUCCESS(f"The {ring.name} ring is moving to the rollout's commit."))
            elif action == "halt":
                rollout_halt(user=user, rollout=rollout, reason=reason)
            else:
                for promotion in rollout_rollback(user=user, rollout=rollout, comment=reason):
                    self.stdout.write(
                        self.style.SUCCESS(f"Rollback #{promotion.pk} of {promotion.target_ref} waits for approval.")
                    )
        except (RolloutError, PromotionError) as exc:
            raise CommandError(str(exc)) from exc

    def _line(self, rollout: Rollout) -> str:
        return (
            f"#{rollout.pk} {rollout.state:<10} {rollout.stage.name}:{rollout.stage_ref} "
            f"{rollout.commit.version or rollout.commit.checksum[:10]} since {rollout.created_at:%Y-%m-%d %H:%M}"
        )

    def _show(self, rollout: Rollout) -> None:
        self.stdout.write(self._line(rollout))
        if rollout.halt_reason and rollout.state == Rollout.State.HALTED:
            self.stdout.write(f"  halted: {rollout.halt_reason}")
        for item in ring_progress(rollout):
            opens = f", opens in {item.opens_in}" if item.opens_in else ""
            self.stdout.write(
                f"  {item.ring.order} {item.ring.name:<10} {item.gate:<18} succeeded {item.succeeded}, failed "
                f"{item.failed}, pending {item.pending}, timed out {item.timed_out}, silent {item.silent}{opens}"
            )
