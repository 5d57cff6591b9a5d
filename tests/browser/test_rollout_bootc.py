"""bootc desktops on the rollout pages in a real Chromium: an OCI prod stage with rings, its image rolling out by
digest, hosts that would boot unsigned images flagged (screenshots ``rollout-bootc-*``).

bootc cannot run on the test machine: the desktops check in through the real check-in service with documents in
the exact shape ``bootc status --json`` prints.
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
from kinoite_portal.releases.services.commits import ref_move
from kinoite_portal.rollouts.models import Ring, Rollout, RolloutEvent, RolloutRing, ring_ref
from tests.browser.test_rollout_rings import WIDTHS, fits, open_rollout
from tests.fleet.helpers import bootc_doc, bootc_entry, fake_checksum, machine_id

HOUR = timedelta(hours=1)
IMAGE = "registry.example.com/prod/kinoite"
# Per department: (ring, [(digest label, signature) per host]); "new" hosts report greenboot green on the new image.
# The pilot ring's hosts follow the ring's tag (stable-pilot), the others the stage's tag (stable).
FLEET = {
    "it": ("pilot", [("new", "containerPolicy")] * 4 + [("old", "insecure")]),
    "finance": ("broad", [("old", "containerPolicy")] * 5 + [("old", None)] + [("oldest", "containerPolicy")]),
}
TAGS = {"pilot": "stable-pilot", "broad": "stable"}


@pytest.fixture
def bootc_rollout(transactional_db: None, approver: Any, department_head: Any) -> Rollout:
    """An OCI prod stage (registry.example.com/prod/kinoite) with rings pilot (IT) and broad (Finance, headed by
    dora): the new image reached pilot 26 h ago, its gate is open; bootc desktops report the digests they run."""
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
        min_days_in_previous_stage=0,
    )
    images = {
        label: Commit.objects.create(checksum=fake_checksum(f"img-{label}"), version=version, timestamp=now)
        for label, version in (("oldest", "41.20261015.0"), ("old", "41.20261101.0"), ("new", "41.20261125.0"))
    }
    for tag in TAGS.values():
        for label, days in (("oldest", 40), ("old", 20)):
            ref_move(
                stage=prod, ref_name=tag, commit=images[label], source="promotion", moved_at=now - days * 24 * HOUR
            )
    # The pilot ring's tag moved to the new image; moving ring tags in a registry is not built, so it is recorded here.
    ref_move(stage=prod, ref_name=TAGS["pilot"], commit=images["new"], source="rollout", moved_at=now - 26 * HOUR)
    departments = {slug: Department.objects.create(name=slug.title(), slug=slug) for slug in FLEET}
    departments["it"].name = "IT"
    departments["it"].save()
    departments["finance"].heads.add(department_head)
    rings = {}
    for order, (slug, (name, _hosts)) in enumerate(FLEET.items(), start=1):
        rings[name] = Ring.objects.create(stage=prod, name=name, order=order, success_threshold=75)
        rings[name].departments.add(departments[slug])
    promotion = Promotion.objects.create(
        commit=images["new"],
        source_stage=dev,
        target_stage=prod,
        target_ref="stable",
        state=Promotion.State.SUCCEEDED,
        published_commit=images["new"],
        finished_at=now - 26 * HOUR,
    )
    rollout = Rollout.objects.create(
        promotion=promotion, stage=prod, stage_ref="stable", commit=images["new"], previous_commit=images["old"]
    )
    for name, ring in rings.items():
        moved_at = now - 26 * HOUR if name == "pilot" else None
        rollout_ring = RolloutRing.objects.create(
            rollout=rollout,
            ring=ring,
            name=name,
            order=ring.order,
            ref=ring_ref("stable", name),
            is_last=name == "broad",
            soak_time=24 * HOUR,
            success_threshold=ring.success_threshold,
            failure_threshold=ring.failure_threshold,
            update_timeout=48 * HOUR,
            auto_advance=False,
            state=RolloutRing.State.MOVED if moved_at else RolloutRing.State.WAITING,
            move_requested_at=moved_at,
            moved_at=moved_at,
        )
        if moved_at:
            event = RolloutEvent.objects.create(
                rollout=rollout,
                ring=rollout_ring,
                kind=RolloutEvent.Kind.MOVED,
                message="pilot now boots 41.20261125.0",
            )
            RolloutEvent.objects.filter(pk=event.pk).update(created_at=moved_at)
    Rollout.objects.filter(pk=rollout.pk).update(created_at=now - 26 * HOUR)
    for slug, (ring_name, hosts) in FLEET.items():
        for index, (label, signature) in enumerate(hosts):
            host = Host.objects.create(
                hostname=f"{slug}-bootc-{index:02d}",
                machine_id=machine_id(f"{slug}-{index}"),
                department=departments[slug],
            )
            entry = bootc_entry(
                images[label].checksum,
                image=f"{IMAGE}:{TAGS[ring_name]}",
                version=images[label].version,
                signature=signature,
            )
            doc = bootc_doc(entry)
            checkin_record(
                host=host,
                hostname=host.hostname,
                status=None,
                bootc=parse_bootc_status(doc),
                report={},
                greenboot="green",
            )
    return rollout


@pytest.mark.browser
def test_it_staff_see_bootc_desktops_counted_by_digest_and_the_unsigned_ones_flagged(
    bootc_rollout: Rollout, new_page: Any, sign_in: Any, live_server: Any, watch: Any, shot: Any
) -> None:
    page = open_rollout(new_page, sign_in, live_server, "alice", "wide")
    seen = watch(page)
    page.reload()
    page.wait_for_load_state("networkidle")

    assert f"{IMAGE}:stable" in page.locator("main").inner_text()
    pilot = page.locator("#ring-pilot")
    assert pilot.get_attribute("data-gate") == "awaiting_approval"  # 4 of 5 on the new digest: over 75 %
    assert "Succeeded 4" in pilot.inner_text()
    assert "Pending 1" in pilot.inner_text()
    warning = page.locator("#unsigned-hosts")
    assert "2 bootc desktops would boot an image nobody signed" in warning.inner_text()
    assert page.locator("#dept-it .unsigned-count").get_attribute("data-unsigned") == "1"
    assert page.locator("#dept-finance .unsigned-count").get_attribute("data-unsigned") == "1"
    for department, current, older in (("it", "4", "1"), ("finance", "6", "1")):
        assert page.locator(f"#dept-{department} td[data-category=current]").inner_text().startswith(current)
        assert page.locator(f"#dept-{department} td[data-category=older]").inner_text().startswith(older)
    assert seen.errors == []
    assert seen.foreign_requests() == []
    shot(page, "rollout-bootc-approver-wide")

    page.click("#dept-it .unsigned-count")
    page.wait_for_load_state("networkidle")
    rows = page.locator("tr[data-host]")
    assert rows.count() == 1
    assert rows.first.get_attribute("data-host") == "it-bootc-04"
    assert rows.first.locator(".unsigned").get_attribute("data-signature") == "insecure"
    page.click("tr[data-host=it-bootc-04] a")
    page.wait_for_load_state("networkidle")
    assert "bootc's image policy is insecure" in page.locator("#unsigned-host").inner_text()
    assert seen.errors == []


@pytest.mark.browser
def test_a_department_head_sees_their_bootc_desktops_per_tag_and_the_unsigned_one(
    bootc_rollout: Rollout, new_page: Any, sign_in: Any, live_server: Any, shot: Any
) -> None:
    page = open_rollout(new_page, sign_in, live_server, "dora", "narrow")

    assert page.locator("#dept-it").count() == 0
    assert page.locator("#dept-finance .unsigned-count").get_attribute("data-unsigned") == "1"
    assert page.locator("#placement-finance").get_attribute("data-ring") == "broad"
    fits(page, WIDTHS["narrow"][0])
    shot(page, "rollout-bootc-head-narrow")

    page.click("#dept-finance a")
    page.wait_for_load_state("networkidle")
    row = page.locator(f'tr.ref-row[data-ref="{IMAGE}:stable"]')
    assert "prod tag 41.20261101.0" in row.inner_text()
    assert row.locator("td[data-category=current]").inner_text().startswith("6")
    assert "41.20261015.0: 1" in row.inner_text()
    warning = page.locator("#unsigned-hosts")
    assert "1 bootc desktop of Finance would boot an image nobody signed" in warning.inner_text()
    assert warning.locator(".unsigned-count").inner_text() == "1 accepts unsigned images"
    fits(page, WIDTHS["narrow"][0])
    shot(page, "rollout-bootc-department-head-narrow")
