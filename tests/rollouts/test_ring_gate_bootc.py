"""A ring gate of an OCI stage's rollout counts bootc desktops by the image digest they booted.

The rollout model takes a stage of either kind (rings, rollouts and gates name a stage and a commit, and an image is a
commit whose checksum is its digest's hex). This rollout is made the way the other gate tests make theirs (ring tags
moved in a real registry: test_oci_rings_end_to_end.py). bootc cannot run on the test machine: hosts check in through
the real check-in service with documents in bootc's exact shape.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from kinoite_portal.fleet.models import Department, Host
from kinoite_portal.fleet.services.checkins import checkin_record
from kinoite_portal.fleet.status_parser import parse_bootc_status
from kinoite_portal.releases.models import Commit, Promotion, Stage
from kinoite_portal.rollouts.models import Ring, Rollout, RolloutRing, ring_ref
from kinoite_portal.rollouts.selectors import Gate, ring_progress
from tests.fleet.helpers import bootc_doc, bootc_entry, fake_checksum, machine_id

HOUR = timedelta(hours=1)
IMAGE = "registry.example.com/prod/kinoite"


@pytest.fixture
def oci_rollout(db: None) -> dict[str, Any]:
    """An OCI prod stage with rings pilot (IT) and broad; the new image reached pilot 26 h ago (soak 24 h).

    The update timeout is 48 h, so a host still on the old image is pending, not timed out.
    """
    now = timezone.now()
    dev = Stage.objects.create(
        name="dev", order=0, kind=Stage.Kind.OCI, image_registry="registry.example.com", image_repository="dev/kinoite"
    )
    prod = Stage.objects.create(
        name="prod",
        order=1,
        kind=Stage.Kind.OCI,
        image_registry="registry.example.com",
        image_repository="prod/kinoite",
    )
    old = Commit.objects.create(checksum=fake_checksum("image old"), version="41.20261101.0", timestamp=now)
    new = Commit.objects.create(checksum=fake_checksum("image new"), version="41.20261125.0", timestamp=now)
    it = Department.objects.create(name="IT", slug="it")
    pilot = Ring.objects.create(stage=prod, name="pilot", order=1, success_threshold=60)
    pilot.departments.add(it)
    broad = Ring.objects.create(stage=prod, name="broad", order=2)
    promotion = Promotion.objects.create(
        commit=new,
        source_stage=dev,
        target_stage=prod,
        target_ref="stable",
        state=Promotion.State.SUCCEEDED,
        published_commit=new,
    )
    rollout = Rollout.objects.create(
        promotion=promotion, stage=prod, stage_ref="stable", commit=new, previous_commit=old
    )
    for ring, moved_at in ((pilot, now - 26 * HOUR), (broad, None)):
        RolloutRing.objects.create(
            rollout=rollout,
            ring=ring,
            name=ring.name,
            order=ring.order,
            ref=ring_ref("stable", ring.name),
            is_last=ring is broad,
            soak_time=24 * HOUR,
            success_threshold=ring.success_threshold,
            failure_threshold=ring.failure_threshold,
            update_timeout=48 * HOUR,
            auto_advance=True,
            state=RolloutRing.State.MOVED if moved_at else RolloutRing.State.WAITING,
            move_requested_at=moved_at,
            moved_at=moved_at,
        )
    return {"rollout": rollout, "new": new, "old": old, "it": it}


def bootc_host(name: str, department: Department, doc: dict[str, Any], greenboot: str) -> Host:
    host = Host.objects.create(hostname=name, machine_id=machine_id(name), department=department)
    checkin_record(host=host, hostname=name, status=None, bootc=parse_bootc_status(doc), report={}, greenboot=greenboot)
    return host


def test_a_bootc_host_booted_on_the_rollouts_digest_counts_as_success_and_opens_the_gate(
    oci_rollout: dict[str, Any],
) -> None:
    new, old, it = oci_rollout["new"].checksum, oci_rollout["old"].checksum, oci_rollout["it"]
    bootc_host("it-001", it, bootc_doc(bootc_entry(new, image=f"{IMAGE}:stable")), "green")
    bootc_host("it-002", it, bootc_doc(bootc_entry(new, image=f"{IMAGE}:stable"), rollback=bootc_entry(old)), "green")
    # Staged the new image, waits for a reboot: pending, not a success.
    bootc_host("it-003", it, bootc_doc(bootc_entry(old), staged=bootc_entry(new)), "green")

    pilot, broad = ring_progress(oci_rollout["rollout"])

    assert (pilot.succeeded, pilot.pending, pilot.failed) == (2, 1, 0)
    assert pilot.gate == Gate.OPEN  # 2 of 3 is over the 60 % threshold, and the soak is over
    assert broad.gate == Gate.WAITING


def test_a_bootc_host_back_on_the_previous_digest_with_the_new_one_as_rollback_fails_the_ring(
    oci_rollout: dict[str, Any],
) -> None:
    new, old, it = oci_rollout["new"].checksum, oci_rollout["old"].checksum, oci_rollout["it"]
    bootc_host("it-001", it, bootc_doc(bootc_entry(new)), "green")
    bootc_host("it-002", it, bootc_doc(bootc_entry(old), rollback=bootc_entry(new)), "green")
    bootc_host("it-003", it, bootc_doc(bootc_entry(new)), "red")

    pilot, _ = ring_progress(oci_rollout["rollout"])

    assert (pilot.succeeded, pilot.failed) == (1, 2)
    assert pilot.gate == Gate.FAILING
