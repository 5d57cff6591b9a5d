"""Compose a treefile into the dev repo from the command line (for automation)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from kinoite_portal.core.queues import GRACE_SECONDS, queue_unconsumed_message
from kinoite_portal.releases.errors import ComposeError
from kinoite_portal.releases.models import Compose, Stage, Treefile
from kinoite_portal.releases.services.composes import compose_request
from kinoite_portal.releases.services.treefiles import treefile_save
from kinoite_portal.releases.treefile_schema import TreefileInvalid, parse_treefile_json


class Command(BaseCommand):
    help = (
        "Queue a compose of TREEFILE (a treefile name, or a .json file that is saved as a new revision first). "
        "With --wait, print the log as it streams and exit non-zero unless the compose succeeded or was unchanged."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("treefile", help="Treefile name, or path to a treefile .json file.")
        parser.add_argument("--name", help="Treefile name when TREEFILE is a file (default: the file name).")
        parser.add_argument("--published-ref", help="Published ref when TREEFILE is a file (default: the saved one).")
        parser.add_argument("--schedule", default=None, help="Cron schedule to save with a file (default: keep).")
        parser.add_argument("--comment", default="", help="Revision comment when TREEFILE is a file.")
        parser.add_argument(
            "--kind",
            choices=[choice for choice, _ in Treefile.Kind.choices],
            default=None,
            help="Kind of a new treefile given as a file: treefile (rpm-ostree JSON, the default) or containerfile "
            '({"containerfile": ..., "tag": ..., "context": {...}}).',
        )
        parser.add_argument(
            "--stage",
            default=None,
            help="Stage to build into (default: the first stage of the treefile's kind: ostree for a treefile, OCI "
            "for a Containerfile).",
        )
        parser.add_argument("--wait", action="store_true", help="Wait for the compose and stream its log.")
        parser.add_argument(
            "--wait-timeout",
            type=float,
            default=None,
            help="Give up waiting after this many s (default: PORTAL_COMPOSE_TIMEOUT plus a minute, the longest a "
            "compose may run). Waiting stops sooner when no worker listens on the compose queue.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        wait_timeout = options["wait_timeout"]
        if wait_timeout is not None and wait_timeout <= 0:
            raise CommandError("--wait-timeout must be a positive number of seconds")
        treefile = self._treefile(options)
        stage = None
        if options["stage"]:
            stage = Stage.objects.filter(name=options["stage"]).first()
            if stage is None:
                raise CommandError(f"no stage named {options['stage']!r}")
        try:
            compose = compose_request(treefile=treefile, trigger="command", stage=stage)
        except ComposeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Compose #{compose.pk} of {treefile.name} r{compose.revision.number} queued")
        if not options["wait"]:
            return
        self._follow(compose, wait_timeout or settings.PORTAL_COMPOSE_TIMEOUT + 60)

    def _treefile(self, options: dict[str, Any]) -> Treefile:
        value = options["treefile"]
        path = Path(value)
        if not (value.endswith(".json") or path.is_file()):
            treefile = Treefile.objects.filter(name=value).first()
            if treefile is None:
                raise CommandError(f"no treefile named {value!r}; pass a .json file to create one")
            return treefile
        if not path.is_file():
            raise CommandError(f"treefile file {value} does not exist")
        name = options["name"] or path.stem
        existing = Treefile.objects.filter(name=name).first()
        published_ref = options["published_ref"] or (existing.published_ref if existing else "")
        if not published_ref:
            example = "stable" if options["kind"] == Treefile.Kind.CONTAINERFILE else "fedora/x86_64/kinoite/stable"
            raise CommandError(f"treefile {name!r} is new: pass --published-ref (e.g. {example})")
        try:
            content = parse_treefile_json(path.read_text())
            return treefile_save(
                name=name,
                content=content,
                published_ref=published_ref,
                description=existing.description if existing else "",
                schedule=options["schedule"]
                if options["schedule"] is not None
                else (existing.schedule if existing else ""),
                comment=options["comment"] or f"saved by manage.py compose from {path.name}",
                kind=options["kind"],
            )
        except TreefileInvalid as exc:
            lines = [f"  {field or 'treefile'}: {msg}" for field, msgs in exc.errors.items() for msg in msgs]
            raise CommandError("treefile not saved:\n" + "\n".join(lines)) from exc

    def _follow(self, compose: Compose, wait_timeout: float) -> None:
        printed = 0
        state = compose.state
        started = time.monotonic()
        deadline = started + wait_timeout
        while True:
            compose.refresh_from_db(fields=["state", "log", "failure_reason", "commit"])
            if compose.state != state:
                state = compose.state
                self.stdout.write(f"[{state}]")
            if len(compose.log) > printed:
                self.stdout.write(compose.log[printed:], ending="")
                printed = len(compose.log)
            if compose.is_finished:
                break
            if time.monotonic() > deadline:
                raise CommandError(f"compose #{compose.pk} still {compose.state} after {wait_timeout:g} s")
            if compose.state == Compose.State.QUEUED and time.monotonic() - started > GRACE_SECONDS:
                problem = queue_unconsumed_message("compose")
                if problem:
                    raise CommandError(
                        f"compose #{compose.pk} is still queued: {problem} "
                        "(it stays queued and runs once a worker starts)"
                    )
            time.sleep(0.5)
        summary = {"compose": compose.pk, "state": compose.state, "reason": compose.failure_reason}
        if compose.commit is not None:
            summary["commit"] = compose.commit.checksum
        if compose.state in (Compose.State.SUCCEEDED, Compose.State.UNCHANGED):
            self.stdout.write(self.style.SUCCESS(json.dumps(summary)))
            return
        raise CommandError(f"compose #{compose.pk} {compose.state}: {compose.failure_reason}")
