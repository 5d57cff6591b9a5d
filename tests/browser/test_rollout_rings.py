"""The rollout page while a ring rollout runs and after a halt, for an approver and for a department head, at 1280 and
390 px (screenshots ``rollout-rings-*``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from kinoite_portal.fleet.models import AdoptionSample, Department, Host
from kinoite_portal.fleet.services.checkins import checkin_record
from kinoite_portal.fleet.status_parser import parse_status
from kinoite_portal.releases.models import Commit, Promotion, Stage
from kinoite_portal.releases.services.commits import ref_move
from kinoite_portal.rollouts.models import Ring, Rollout, RolloutEvent, RolloutRing, ring_ref
from tests.fleet.helpers import PROD_REF, deployment, fake_checksum, machine_id, status_doc

HOUR = timedelta(hours=1)
WIDTHS = {"wide": (1280, 900), "narrow": (390, 844)}
# Per department: (ring, hosts, how many run the new commit green, how many failed on it).
FLEET = {"it": ("pilot", 6, 5, 0), "finance": ("early", 12, 5, 0), "design": ("broad", 8, 0, 0), "sales": ("", 5, 0, 0)}
MOVED_AGO = {"pilot": 26 * HOUR, "early": 3 * HOUR}


@pytest.fixture
def ring_rollout(transactional_db: None, approver: Any, department_head: Any) -> Rollout:
    """A prod stage with rings pilot (IT), early (Finance), broad (Design, and Sales in no ring): the new commit
    reached pilot 26 h ago (gate passed) and early 3 h ago (soaking); hosts check in through the real service."""
    now = timezone.now()
    dev = Stage.objects.create(name="dev", order=0, repo_path="dev")
    prod = Stage.objects.create(name="prod", order=1, repo_path="prod", min_days_in_previous_stage=0)
    old = Commit.objects.create(checksum=fake_checksum("old"), version="41.20261101.0", timestamp=now - 30 * 24 * HOUR)
    new = Commit.objects.create(checksum=fake_checksum("new"), version="41.20261125.0", timestamp=now - 2 * 24 * HOUR)
    departments = {slug: Department.objects.create(name=slug.title(), slug=slug) for slug in FLEET}
    departments["it"].name = "IT"
    departments["it"].save()
    departments["finance"].heads.add(department_head)
    departments["design"].heads.add(department_head)
    rings = {}
    for order, name in enumerate(("pilot", "early", "broad"), start=1):
        rings[name] = Ring.objects.create(stage=prod, name=name, order=order)
    for slug, (ring, *_rest) in FLEET.items():
        if ring:
            rings[ring].departments.add(departments[slug])
    for ref in (PROD_REF, *(ring_ref(PROD_REF, name) for name in rings)):
        ref_move(stage=prod, ref_name=ref, commit=old, source="promotion", moved_at=now - 10 * 24 * HOUR)
    promotion = Promotion.objects.create(
        commit=new,
        source_stage=dev,
        target_stage=prod,
        target_ref=PROD_REF,
        state=Promotion.State.SUCCEEDED,
        published_commit=new,
        finished_at=now - MOVED_AGO["pilot"],
    )
    rollout = Rollout.objects.create(
        promotion=promotion, stage=prod, stage_ref=PROD_REF, commit=new, previous_commit=old
    )
    RolloutEvent.objects.create(rollout=rollout, kind=RolloutEvent.Kind.STARTED, message="Published to the pilot ring.")
    for name, ring in rings.items():
        moved_at = now - MOVED_AGO[name] if name in MOVED_AGO else None
        rollout_ring = RolloutRing.objects.create(
            rollout=rollout,
            ring=ring,
            name=name,
            order=ring.order,
            ref=ring_ref(PROD_REF, name),
            is_last=name == "broad",
            soak_time=ring.soak_time,
            success_threshold=ring.success_threshold,
            failure_threshold=ring.failure_threshold,
            update_timeout=ring.update_timeout,
            auto_advance=ring.auto_advance,
            state=RolloutRing.State.MOVED if moved_at else RolloutRing.State.WAITING,
            move_requested_at=moved_at,
            moved_at=moved_at,
        )
        if moved_at:
            ref_move(stage=prod, ref_name=rollout_ring.ref, commit=new, source="rollout", moved_at=moved_at)
            event = RolloutEvent.objects.create(
                rollout=rollout, ring=rollout_ring, kind=RolloutEvent.Kind.MOVED, message=f"{name} now follows {new}."
            )
            RolloutEvent.objects.filter(pk=event.pk).update(created_at=moved_at)
    RolloutEvent.objects.filter(kind=RolloutEvent.Kind.STARTED).update(created_at=now - MOVED_AGO["pilot"])
    Rollout.objects.filter(pk=rollout.pk).update(created_at=now - MOVED_AGO["pilot"])
    for slug, (ring_name, count, green, red) in FLEET.items():
        origin = f"prod:{ring_ref(PROD_REF, ring_name or 'broad')}"
        for index in range(count):
            checksum = new.checksum if index < green + red else old.checksum
            host = Host.objects.create(
                hostname=f"{slug}-{index:03d}", machine_id=machine_id(f"{slug}-{index}"), department=departments[slug]
            )
            doc = status_doc(deployment(checksum, booted=True, origin=origin))
            verdict = "red" if green <= index < green + red else "green"
            checkin_record(host=host, hostname=host.hostname, status=parse_status(doc), report={}, greenboot=verdict)
        # Hourly samples for three days: each ring's hosts move to the new commit over the hours after its move.
        ring_moved = MOVED_AGO.get(ring_name)
        for hours in range(72, 0, -1):
            taken_at = (now - hours * HOUR).replace(minute=0, second=0, microsecond=0)
            since = (ring_moved - hours * HOUR) / HOUR if ring_moved else -1
            on_new = min(green, max(0, round(green * since / 6))) if since > 0 else 0
            for checksum, hosts in ((new.checksum, on_new), (old.checksum, count - on_new)):
                if hosts:
                    AdoptionSample.objects.create(
                        taken_at=taken_at,
                        department=departments[slug],
                        ref=origin.split(":", 1)[1],
                        checksum=checksum,
                        hosts=hosts,
                    )
    return rollout


def open_rollout(new_page: Any, sign_in: Any, live_server: Any, username: str, size: str) -> Any:
    page = new_page(*WIDTHS[size])
    sign_in(page, username)
    page.goto(f"{live_server.url}/fleet/rollout/")
    page.wait_for_load_state("networkidle")
    return page


def fits(page: Any, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    for bar in page.locator(".ring-bar, .rollout-bar").all():
        found = bar.bounding_box()
        if found is not None:
            assert found["x"] + found["width"] <= width + 1, found


@pytest.mark.browser
@pytest.mark.parametrize("size", list(WIDTHS))
def test_an_approver_watches_the_rings_while_the_rollout_runs(
    size: str, ring_rollout: Rollout, new_page: Any, sign_in: Any, live_server: Any, watch: Any, shot: Any
) -> None:
    page = open_rollout(new_page, sign_in, live_server, "alice", size)
    seen = watch(page)
    page.reload()
    page.wait_for_load_state("networkidle")

    assert page.locator("#ring-pilot").get_attribute("data-gate") == "passed"
    assert page.locator("#ring-early").get_attribute("data-gate") == "soaking"
    assert page.locator("#ring-broad").get_attribute("data-gate") == "waiting"
    early = page.locator("#ring-early").inner_text()
    assert "Succeeded 5" in early
    assert "Pending 7" in early
    assert "the gate can open in 20 hours" in early or "the gate can open in 21 hours" in early
    assert page.locator("#ring-pilot svg.chart-svg polygon").count() >= 1
    assert page.locator("#ring-actions button.act-halt").is_visible()
    assert page.locator("#ring-actions button.act-advance").inner_text() == "Advance broad early"
    assert "early now follows" in page.locator("ol.timeline").inner_text()
    fits(page, WIDTHS[size][0])
    assert seen.errors == []
    assert seen.foreign_requests() == []
    shot(page, f"rollout-rings-approver-{size}")


@pytest.mark.browser
@pytest.mark.parametrize("size", list(WIDTHS))
def test_a_department_head_sees_the_ring_of_their_department_and_when_the_update_arrives(
    size: str, ring_rollout: Rollout, new_page: Any, sign_in: Any, live_server: Any, shot: Any
) -> None:
    page = open_rollout(new_page, sign_in, live_server, "dora", size)

    row = page.locator("#placement-finance")
    assert row.get_attribute("data-ring") == "early"
    assert "reached" in row.inner_text()
    assert page.locator("#placement-design").get_attribute("data-ring") == "broad"
    assert "expected in 20 hours" in page.locator("#placement-design").inner_text()
    assert page.locator("#placement-it, #placement-sales, #ring-pilot").count() == 0
    assert page.locator("#ring-actions, button.act-halt, textarea").count() == 0
    fits(page, WIDTHS[size][0])
    shot(page, f"rollout-rings-head-{size}")


@pytest.mark.browser
def test_an_approver_halts_the_rollout_and_the_department_head_sees_it_on_hold(
    ring_rollout: Rollout, new_page: Any, sign_in: Any, live_server: Any, watch: Any, shot: Any
) -> None:
    page = open_rollout(new_page, sign_in, live_server, "alice", "wide")
    seen = watch(page)

    # Bad input: advancing early without a reason is refused, with the reason why, and nothing moves.
    page.click("#ring-actions button.act-advance")
    page.wait_for_selector("#ring-rollout .action-error")
    assert "reason" in page.locator("#ring-rollout .action-error").inner_text()
    assert RolloutRing.objects.get(rollout=ring_rollout, name="broad").state == RolloutRing.State.WAITING

    page.fill("#rollout-reason", "Finance desktops lose their printers after the update.")
    page.locator("#ring-actions button.act-halt").dblclick()  # the second click lands on a disabled button
    page.wait_for_selector("#ring-rollout[data-state=halted]")

    assert RolloutEvent.objects.filter(rollout=ring_rollout, kind=RolloutEvent.Kind.HALTED).count() == 1
    assert "Finance desktops lose their printers" in page.locator("#ring-rollout .halted-banner").inner_text()
    assert page.locator("#ring-actions button.act-halt, #ring-actions button.act-advance").count() == 0
    assert page.locator("#ring-actions button.act-resume").is_visible()
    assert page.locator("#ring-early").get_attribute("data-gate") == "halted"
    assert "halted" in page.locator("ol.timeline").inner_text()
    assert seen.errors == []
    shot(page, "rollout-rings-halted-approver-wide")

    head = open_rollout(new_page, sign_in, live_server, "dora", "narrow")
    assert "on hold" in head.locator("#placement-design").inner_text()
    assert "reached" in head.locator("#placement-finance").inner_text()
    fits(head, WIDTHS["narrow"][0])
    shot(head, "rollout-rings-halted-head-narrow")
