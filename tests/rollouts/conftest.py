"""Fixtures of the rollout tests: a prod stage with rings, departments, and hosts that check in for real."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from kinoite_portal.fleet.models import Department, Host
from kinoite_portal.fleet.services.checkins import checkin_record
from kinoite_portal.fleet.status_parser import parse_status
from kinoite_portal.releases.models import Commit, Promotion, Stage
from kinoite_portal.rollouts.models import Ring, Rollout, RolloutRing, ring_ref
from tests.fleet.helpers import PROD_REF, fake_checksum, machine_id


@pytest.fixture
def prod(db: None) -> Stage:
    Stage.objects.create(name="dev", order=0, repo_path="dev")
    return Stage.objects.create(name="prod", order=1, repo_path="prod")


@pytest.fixture
def departments(db: None) -> dict[str, Department]:
    return {
        slug: Department.objects.create(name=slug.title(), slug=slug) for slug in ("it", "finance", "sales", "design")
    }


@pytest.fixture
def rings(prod: Stage, departments: dict[str, Department]) -> dict[str, Ring]:
    """pilot (IT), early (finance), broad (design); sales is in no ring, so its hosts are in broad, the last."""
    pilot = Ring.objects.create(stage=prod, name="pilot", order=1)
    pilot.departments.add(departments["it"])
    early = Ring.objects.create(stage=prod, name="early", order=2)
    early.departments.add(departments["finance"])
    broad = Ring.objects.create(stage=prod, name="broad", order=3)
    broad.departments.add(departments["design"])
    return {"pilot": pilot, "early": early, "broad": broad}


@pytest.fixture
def make_host(db: None) -> Callable[..., Host]:
    def make(name: str, department: Department) -> Host:
        return Host.objects.create(hostname=name, machine_id=machine_id(name), department=department)

    return make


def check_in(host: Host, status: dict[str, Any], *, greenboot: str | None = None, at: datetime | None = None) -> None:
    """Record a check-in through the check-in service, optionally back-dated to ``at``."""
    checkin_record(host=host, hostname=host.hostname, status=parse_status(status), report={}, greenboot=greenboot)
    if at is not None:
        Host.objects.filter(pk=host.pk).update(last_checkin_at=at)


@pytest.fixture
def commits(db: None) -> dict[str, Commit]:
    now = timezone.now()
    return {
        label: Commit.objects.create(checksum=fake_checksum(label), version=version, timestamp=now)
        for label, version in (("old", "41.20261101.0"), ("new", "41.20261125.0"))
    }


@pytest.fixture
def make_rollout(prod: Stage, rings: dict[str, Ring], commits: dict[str, Commit]) -> Callable[..., Rollout]:
    """Return a function that makes a rollout of the new commit whose rings moved the given time ago."""

    def make(moved_ago: dict[str, timedelta], **gate: Any) -> Rollout:
        promotion = Promotion.objects.create(
            commit=commits["new"],
            source_stage=Stage.objects.get(name="dev"),
            target_stage=prod,
            target_ref=PROD_REF,
            state=Promotion.State.SUCCEEDED,
            published_commit=commits["new"],
        )
        rollout = Rollout.objects.create(
            promotion=promotion,
            stage=prod,
            stage_ref=PROD_REF,
            commit=commits["new"],
            previous_commit=commits["old"],
        )
        now = timezone.now()
        ordered = sorted(rings.values(), key=lambda ring: ring.order)
        for ring in ordered:
            moved_at = now - moved_ago[ring.name] if ring.name in moved_ago else None
            RolloutRing.objects.create(
                rollout=rollout,
                ring=ring,
                name=ring.name,
                order=ring.order,
                ref=ring_ref(PROD_REF, ring.name),
                is_last=ring is ordered[-1],
                soak_time=gate.get("soak_time", ring.soak_time),
                success_threshold=gate.get("success_threshold", ring.success_threshold),
                failure_threshold=gate.get("failure_threshold", ring.failure_threshold),
                update_timeout=gate.get("update_timeout", ring.update_timeout),
                auto_advance=gate.get("auto_advance", ring.auto_advance),
                state=RolloutRing.State.MOVED if moved_at else RolloutRing.State.WAITING,
                move_requested_at=moved_at,
                moved_at=moved_at,
            )
        return rollout

    return make
