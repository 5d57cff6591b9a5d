"""The rollout page while a ring rollout runs: per ring progress and gate, the timeline, departments' rings."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from kinoite_portal.fleet.models import AdoptionSample, Department, Host
from kinoite_portal.releases.models import Commit
from kinoite_portal.rollouts.models import Ring, Rollout, RolloutEvent, RolloutRing, ring_ref
from kinoite_portal.rollouts.selectors import hosts_with_ring, ring_progress, rollout_arrivals, rollout_page
from tests.fleet.helpers import PROD_REF, booted_on
from tests.rollouts.conftest import check_in

HOUR = timedelta(hours=1)


@pytest.fixture
def running(
    make_rollout: Callable[..., Rollout],
    commits: dict[str, Commit],
    departments: dict[str, Department],
    make_host: Callable[..., Host],
) -> Rollout:
    """Pilot (IT) moved 2 h ago with a 24 h soak: 3 hosts green on the new commit, 1 red, 1 still on the old one."""
    rollout = make_rollout({"pilot": 2 * HOUR})
    new, old = commits["new"].checksum, commits["old"].checksum
    for index in range(3):
        check_in(make_host(f"it-{index}", departments["it"]), booted_on(new), greenboot="green")
    check_in(make_host("it-red", departments["it"]), booted_on(new), greenboot="red")
    check_in(make_host("it-late", departments["it"]), booted_on(old), greenboot="green")
    for index in range(2):
        check_in(make_host(f"fin-{index}", departments["finance"]), booted_on(old), greenboot="green")
    check_in(make_host("sales-1", departments["sales"]), booted_on(old), greenboot="green")
    pilot = rollout.rings.get(name="pilot")
    RolloutEvent.objects.create(rollout=rollout, kind=RolloutEvent.Kind.STARTED, message="Started with pilot.")
    RolloutEvent.objects.create(rollout=rollout, ring=pilot, kind=RolloutEvent.Kind.MOVED, message="pilot moved.")
    return rollout


def page_for(client_for: Callable[..., Any], user: Any) -> str:
    response = client_for(user).get(reverse("fleet:rollout"))
    assert response.status_code == 200
    return str(response.content.decode())


def test_an_approver_sees_each_ring_with_its_counts_gate_and_time_until_it_opens(
    running: Rollout, approver: Any, client_for: Callable[..., Any]
) -> None:
    page = page_for(client_for, approver)

    assert 'id="ring-rollout"' in page
    assert 'id="ring-pilot" data-gate="failing"' in page  # 1 of 5 failed: over the 5 % failure threshold
    assert 'id="ring-early" data-gate="waiting"' in page
    pilot = page[page.index('id="ring-pilot"') : page.index('id="ring-early"')]
    assert 'data-category="succeeded"><span class="swatch seg-succeeded"></span>Succeeded <strong>3</strong>' in pilot
    assert 'data-category="failed"><span class="swatch seg-failed"></span>Failed <strong>1</strong>' in pilot
    assert 'data-category="pending"><span class="swatch seg-pending"></span>Pending <strong>1</strong>' in pilot
    assert "Failing: 1 host failed (20%), the limit is 5%" in pilot
    assert "pilot moved." in page  # the timeline
    assert 'act-halt"' in page
    assert 'act-advance"' in page
    assert 'act-pause"' in page
    assert "style=" not in page


def test_a_soaking_ring_says_when_its_gate_can_open(
    make_rollout: Callable[..., Rollout], approver: Any, client_for: Callable[..., Any]
) -> None:
    make_rollout({"pilot": 2 * HOUR})

    page = page_for(client_for, approver)

    assert 'data-gate="soaking"' in page
    assert ">in 21 hours</time>" in page or ">in 22 hours</time>" in page


def test_a_department_head_sees_their_departments_ring_and_when_the_update_reaches_it_but_nothing_else(
    running: Rollout, departments: dict[str, Department], department_head: Any, client_for: Callable[..., Any]
) -> None:
    departments["finance"].heads.add(department_head)

    page = page_for(client_for, department_head)

    assert 'id="placement-finance" data-ring="early"' in page
    finance = page[page.index('id="placement-finance"') :]
    assert "once the ring before is healthy" in finance  # the pilot ring is failing: early waits for its health
    assert 'id="placement-it"' not in page
    assert 'id="placement-sales"' not in page
    assert 'id="ring-pilot"' not in page  # no fleet-wide ring counts for a department head
    assert "act-halt" not in page
    assert "<textarea" not in page
    assert "hx-post" not in page


def test_the_expected_arrival_adds_up_the_soak_times_of_the_rings_before(
    make_rollout: Callable[..., Rollout],
) -> None:
    rollout = make_rollout({"pilot": 2 * HOUR}, soak_time=24 * HOUR)
    now = timezone.now()

    arrivals = rollout_arrivals(rollout, ring_progress(rollout, now=now), now=now)
    by_name = {ring.name: arrivals[ring.pk] for ring in rollout.rings.all()}

    assert by_name["pilot"].arrived
    assert by_name["pilot"].at == rollout.rings.get(name="pilot").moved_at
    assert abs(by_name["early"].at - (now + 22 * HOUR)) < timedelta(seconds=5)  # type: ignore[operator]
    assert abs(by_name["broad"].at - (now + 46 * HOUR)) < timedelta(seconds=5)  # type: ignore[operator]
    assert not by_name["early"].arrived
    assert by_name["early"].waits_for == ""


@pytest.mark.parametrize(
    ("state", "auto_advance", "waits_for"),
    [
        (Rollout.State.PAUSED, True, "paused"),
        (Rollout.State.HALTED, True, "halted"),
        (Rollout.State.RUNNING, False, "approval"),
    ],
)
def test_the_expected_arrival_says_what_it_waits_for(
    make_rollout: Callable[..., Rollout], state: str, auto_advance: bool, waits_for: str
) -> None:
    rollout = make_rollout({"pilot": 2 * HOUR}, auto_advance=auto_advance)
    Rollout.objects.filter(pk=rollout.pk).update(state=state)
    rollout.refresh_from_db()
    now = timezone.now()

    arrivals = rollout_arrivals(rollout, ring_progress(rollout, now=now), now=now)

    assert arrivals[rollout.rings.get(name="early").pk].waits_for == waits_for


def test_a_halted_rollout_offers_approvers_a_resume_and_release_engineers_a_rollback_of_the_moved_rings(
    running: Rollout, approver: Any, release_engineer: Any, client_for: Callable[..., Any]
) -> None:
    Rollout.objects.filter(pk=running.pk).update(
        state=Rollout.State.HALTED, halted_at=timezone.now(), halt_reason="1 of 5 pilot hosts failed."
    )

    for_approver = page_for(client_for, approver)
    for_engineer = page_for(client_for, release_engineer)

    assert "1 of 5 pilot hosts failed." in for_approver
    assert "act-resume" in for_approver
    assert "act-halt" not in for_approver
    assert "act-advance" not in for_approver
    assert "act-rollback" not in for_approver  # a rollback request is the release engineers' to make
    assert "A release engineer can roll the moved rings back" in for_approver
    assert 'class="reject act-rollback"' in for_engineer
    assert "Roll back 1 ring to 41.20261101.0" in for_engineer
    assert "act-resume" not in for_engineer  # pause, resume, advance and halt are the approvers'


def test_a_stage_without_rings_keeps_the_per_department_page(
    prod: Any, departments: dict[str, Department], make_host: Callable[..., Host], approver: Any, client_for: Any
) -> None:
    make_host("fin-1", departments["finance"])

    page = page_for(client_for, approver)

    assert 'id="ring-rollout"' not in page
    assert 'id="dept-finance"' in page


def test_the_status_part_stops_polling_once_the_rollout_is_over_and_tells_the_page_when_the_state_changed(
    running: Rollout, approver: Any, client_for: Callable[..., Any]
) -> None:
    client = client_for(approver)
    url = reverse("rollouts:status", args=[running.pk])

    same = client.get(url + "?state=running")
    assert same.status_code == 200
    assert "HX-Trigger" not in same

    Rollout.objects.filter(pk=running.pk).update(state=Rollout.State.COMPLETED)
    over = client.get(url + "?state=running")
    assert over.status_code == 286
    assert json.loads(over["HX-Trigger"]) == {"rolloutChanged": {}}


def test_a_rollout_has_a_page_of_its_own(running: Rollout, approver: Any, client_for: Any) -> None:
    page = client_for(approver).get(reverse("rollouts:detail", args=[running.pk])).content.decode()

    assert f"Rollout #{running.pk} of 41.20261125.0" in page
    assert 'id="ring-pilot"' in page


def test_the_rings_section_costs_the_same_queries_for_more_hosts(
    running: Rollout,
    commits: dict[str, Commit],
    departments: dict[str, Department],
    make_host: Callable[..., Host],
    approver: Any,
    client_for: Callable[..., Any],
) -> None:
    client = client_for(approver)

    def count() -> int:
        cache.clear()  # both counts read the adoption samples, which the charts otherwise keep per hour
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("fleet:rollout")).status_code == 200
        return len(ctx.captured_queries)

    before = count()
    for index in range(20):
        department = list(departments.values())[index % 4]
        check_in(make_host(f"extra-{index}", department), booted_on(commits["new"].checksum), greenboot="green")
    assert count() == before


@pytest.mark.parametrize("who", ["approver", "department_head"])
def test_the_rings_section_costs_the_same_queries_for_more_rings(
    who: str,
    running: Rollout,
    prod: Any,
    departments: dict[str, Department],
    make_host: Callable[..., Host],
    approver: Any,
    request: pytest.FixtureRequest,
    client_for: Callable[..., Any],
) -> None:
    user = request.getfixturevalue(who)
    departments["finance"].heads.add(user)
    client = client_for(user)

    def count() -> tuple[int, int]:
        """Return the queries of the first view (samples read) and of the next (samples kept)."""
        cache.clear()
        counts = []
        for _ in range(2):
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(reverse("fleet:rollout")).status_code == 200
            counts.append(len(ctx.captured_queries))
        return counts[0], counts[1]

    now = timezone.now()
    AdoptionSample.objects.create(
        taken_at=now.replace(minute=0, second=0, microsecond=0) - HOUR,
        department=departments["it"],
        ref=ring_ref(PROD_REF, "pilot"),
        checksum=running.commit.checksum,
        hosts=3,
    )
    before = count()
    # Three more rings, each with a department, a single host and a chart's samples, moved early by an approver.
    for order in range(4, 7):
        department = Department.objects.create(name=f"Extra {order}", slug=f"extra-{order}")
        ring = Ring.objects.create(stage=prod, name=f"extra{order}", order=order)
        ring.departments.add(department)
        ring.hosts.add(make_host(f"volunteer-{order}", departments["sales"]))
        check_in(make_host(f"extra-{order}", department), booted_on(running.commit.checksum), greenboot="green")
        RolloutRing.objects.create(
            rollout=running,
            ring=ring,
            name=ring.name,
            order=order,
            ref=ring.ref_for(PROD_REF),
            soak_time=ring.soak_time,
            success_threshold=ring.success_threshold,
            failure_threshold=ring.failure_threshold,
            update_timeout=ring.update_timeout,
            auto_advance=ring.auto_advance,
            state=RolloutRing.State.MOVED,
            moved_at=now - HOUR,
            move_requested_at=now - HOUR,
            advanced_by=approver,
            advance_reason="volunteers asked",
        )
        AdoptionSample.objects.create(
            taken_at=now.replace(minute=0, second=0, microsecond=0) - HOUR,
            department=department,
            ref=ring.ref_for(PROD_REF),
            checksum=running.commit.checksum,
            hosts=1,
        )

    assert count() == before


def test_the_department_placements_follow_the_same_membership_rule_as_hosts_with_ring(
    prod: Any, rings: dict[str, Any], departments: dict[str, Department], make_host: Callable[..., Host]
) -> None:
    # A volunteer listed in pilot and in broad (the first wins), finance also listed by broad (early comes first),
    # sales in no ring (the last ring), design with no host at all.
    volunteer = make_host("fin-volunteer", departments["finance"])
    rings["pilot"].hosts.add(volunteer)
    rings["broad"].hosts.add(volunteer)
    rings["broad"].departments.add(departments["finance"])
    for index in range(3):
        make_host(f"fin-{index}", departments["finance"])
        make_host(f"sales-{index}", departments["sales"])
    make_host("it-0", departments["it"])
    ordered = list(departments.values())

    page = rollout_page(stage=prod, departments=ordered)
    assert page is not None

    expected: dict[str, dict[str, int]] = {d.slug: {} for d in ordered}
    names = {ring.pk: ring.name for ring in rings.values()}
    for slug, ring_pk in hosts_with_ring(prod).values_list("department__slug", "ring_pk"):
        expected[slug][names[ring_pk]] = expected[slug].get(names[ring_pk], 0) + 1
    for placement in page.placements:
        found = {placement.ring_name: placement.hosts, **dict(placement.elsewhere)}
        assert {ring: n for ring, n in found.items() if n} == expected[placement.department.slug]
    by_slug = {placement.department.slug: placement for placement in page.placements}
    assert (by_slug["finance"].ring_name, by_slug["finance"].elsewhere) == ("early", [("pilot", 1)])
    assert by_slug["sales"].ring_name == "broad"
    assert (by_slug["design"].ring_name, by_slug["design"].hosts) == ("broad", 0)
