from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kinoite_portal.fleet.models import Department, Host
from kinoite_portal.releases.models import Commit, Stage, Treefile
from kinoite_portal.releases.services.commits import ref_move
from kinoite_portal.rollouts.following import host_follow_ref
from kinoite_portal.rollouts.models import Ring, Rollout, ring_ref
from kinoite_portal.rollouts.selectors import (
    Gate,
    RingProgress,
    department_rings,
    ring_arrivals,
    ring_etas,
    ring_for_host,
    ring_progress,
)
from tests.fleet.helpers import PROD_REF, booted_on, deployment, status_doc
from tests.rollouts.conftest import check_in

HOUR = timedelta(hours=1)


def by_name(progress: list[RingProgress]) -> dict[str, RingProgress]:
    return {item.ring.name: item for item in progress}


def counts(item: RingProgress) -> dict[str, int]:
    return {
        "succeeded": item.succeeded,
        "failed": item.failed,
        "pending": item.pending,
        "timed_out": item.timed_out,
        "silent": item.silent,
    }


def test_a_host_listed_on_its_own_is_in_that_ring_whatever_its_department(
    prod: Stage, rings: dict[str, Ring], departments: dict[str, Department], make_host: Callable[..., Host]
) -> None:
    volunteer = make_host("fin-volunteer", departments["finance"])
    rings["pilot"].hosts.add(volunteer)
    colleague = make_host("fin-002", departments["finance"])
    outsider = make_host("sales-001", departments["sales"])

    assert ring_for_host(host=volunteer, stage=prod) == rings["pilot"]
    assert ring_for_host(host=colleague, stage=prod) == rings["early"]
    assert ring_for_host(host=outsider, stage=prod) == rings["broad"]  # in no ring: the last one


def test_the_check_in_answer_places_hosts_by_the_same_rule_with_one_query_each(
    prod: Stage,
    rings: dict[str, Ring],
    departments: dict[str, Department],
    commits: dict[str, Commit],
    make_host: Callable[..., Host],
) -> None:
    Treefile.objects.create(name="kinoite", content={"ref": "fedora/x86_64/kinoite/dev"}, published_ref=PROD_REF)
    for name in rings:
        ref_move(stage=prod, ref_name=ring_ref(PROD_REF, name), commit=commits["new"], source="rollout")
    # A volunteer listed in pilot and in broad (the first wins), finance also listed by broad (early comes first),
    # sales in no ring (the last ring).
    volunteer = make_host("fin-volunteer", departments["finance"])
    rings["pilot"].hosts.add(volunteer)
    rings["broad"].hosts.add(volunteer)
    rings["broad"].departments.add(departments["finance"])
    hosts = [volunteer, make_host("fin-002", departments["finance"]), make_host("sales-001", departments["sales"])]
    for host in hosts:
        check_in(host, booted_on(commits["old"].checksum))
    hosts = [Host.objects.get(pk=host.pk) for host in hosts]
    expected = [ring_ref(PROD_REF, ring_for_host(host=host, stage=prod).name) for host in hosts]  # type: ignore[union-attr]
    host_follow_ref(host=hosts[0])  # reads the layout once

    with CaptureQueriesContext(connection) as ctx:
        answers = [host_follow_ref(host=host) for host in hosts]

    assert answers == expected == [ring_ref(PROD_REF, name) for name in ("pilot", "early", "broad")]
    assert len(ctx.captured_queries) == len(hosts)  # whether the ring's ref exists yet, nothing about rings


def test_a_stage_without_rings_puts_no_host_in_a_ring(
    prod: Stage, departments: dict[str, Department], make_host: Callable[..., Host]
) -> None:
    assert ring_for_host(host=make_host("fin-001", departments["finance"]), stage=prod) is None


def test_it_counts_each_host_of_a_moved_ring_by_its_evidence_about_the_rollouts_commit(
    make_rollout: Callable[..., Rollout],
    commits: dict[str, Commit],
    departments: dict[str, Department],
    make_host: Callable[..., Host],
) -> None:
    rollout = make_rollout({"pilot": 2 * HOUR}, soak_time=HOUR, update_timeout=3 * HOUR)
    new, old = commits["new"].checksum, commits["old"].checksum
    it = departments["it"]
    check_in(make_host("it-green", it), booted_on(new), greenboot="green")
    check_in(make_host("it-red", it), booted_on(new), greenboot="red")
    # The boot loader fell back to the old deployment: the new one is still first in the list.
    check_in(make_host("it-fellback", it), status_doc(deployment(new), deployment(old, booted=True)), greenboot="green")
    # Booted the new commit, then went back to the old one, which is now the default.
    check_in(make_host("it-back", it), status_doc(deployment(old, booted=True), deployment(new)), greenboot="green")
    # Staged the update and waits for a reboot: neither success nor failure.
    check_in(make_host("it-staged", it), status_doc(deployment(new, staged=True), deployment(old, booted=True)))
    check_in(make_host("it-old-red-before", it), booted_on(old), greenboot="red", at=timezone.now() - 3 * HOUR)
    check_in(make_host("it-silent", it), booted_on(old), greenboot="green", at=timezone.now() - timedelta(days=30))
    make_host("it-never", it)  # enrolled, never checked in: silent

    pilot = by_name(ring_progress(rollout))["pilot"]

    assert counts(pilot) == {"succeeded": 1, "failed": 3, "pending": 2, "timed_out": 0, "silent": 2}
    assert pilot.active == 6
    assert pilot.gate == Gate.FAILING  # 3 of 6 failed: far over the 5 % failure threshold


def test_hosts_without_a_success_report_time_out_after_the_update_timeout(
    make_rollout: Callable[..., Rollout],
    commits: dict[str, Commit],
    departments: dict[str, Department],
    make_host: Callable[..., Host],
) -> None:
    rollout = make_rollout({"pilot": 5 * HOUR}, soak_time=HOUR, update_timeout=4 * HOUR)
    for index in range(9):
        check_in(make_host(f"it-{index}", departments["it"]), booted_on(commits["new"].checksum), greenboot="green")
    check_in(make_host("it-lagging", departments["it"]), booted_on(commits["old"].checksum), greenboot="green")

    pilot = by_name(ring_progress(rollout))["pilot"]

    assert counts(pilot) == {"succeeded": 9, "failed": 0, "pending": 0, "timed_out": 1, "silent": 0}
    assert pilot.gate == Gate.OPEN  # 90 % succeeded meets the default 90 % threshold


@pytest.mark.parametrize(
    ("moved_ago", "succeeded", "auto_advance", "gate", "opens_in"),
    [
        (HOUR / 2, 10, True, Gate.SOAKING, HOUR / 2),
        (2 * HOUR, 8, True, Gate.BLOCKED, timedelta(0)),
        (2 * HOUR, 9, True, Gate.OPEN, timedelta(0)),
        (2 * HOUR, 9, False, Gate.AWAITING_APPROVAL, timedelta(0)),
    ],
)
def test_the_gate_opens_after_the_soak_time_once_the_success_threshold_is_met(
    make_rollout: Callable[..., Rollout],
    commits: dict[str, Commit],
    departments: dict[str, Department],
    make_host: Callable[..., Host],
    moved_ago: timedelta,
    succeeded: int,
    auto_advance: bool,
    gate: str,
    opens_in: timedelta,
) -> None:
    rollout = make_rollout({"pilot": moved_ago}, soak_time=HOUR, auto_advance=auto_advance)
    for index in range(10):
        checksum = commits["new" if index < succeeded else "old"].checksum
        check_in(make_host(f"it-{index}", departments["it"]), booted_on(checksum), greenboot="green")

    pilot = by_name(ring_progress(rollout))["pilot"]

    assert pilot.gate == gate
    assert pilot.opens_in is not None
    assert abs(pilot.opens_in - opens_in) < timedelta(seconds=30)


def test_rings_not_moved_yet_wait_and_a_moved_next_ring_means_the_gate_passed(
    make_rollout: Callable[..., Rollout], departments: dict[str, Department], make_host: Callable[..., Host]
) -> None:
    rollout = make_rollout({"pilot": 30 * HOUR, "early": HOUR})
    check_in(make_host("sales-001", departments["sales"]), booted_on(Rollout.objects.get().commit.checksum))

    progress = by_name(ring_progress(rollout))

    assert [progress[name].gate for name in ("pilot", "early", "broad")] == [Gate.PASSED, Gate.SOAKING, Gate.WAITING]
    assert progress["broad"].opens_in is None
    # The sales host is in no ring, so it counts in the last one; no greenboot verdict: not a success.
    assert counts(progress["broad"])["pending"] == 1


def test_a_halted_or_paused_rollout_shows_it_on_the_moved_rings(make_rollout: Callable[..., Rollout]) -> None:
    rollout = make_rollout({"pilot": 30 * HOUR})
    for state, gate in ((Rollout.State.HALTED, Gate.HALTED), (Rollout.State.PAUSED, Gate.PAUSED)):
        rollout.state = state
        rollout.save()
        assert by_name(ring_progress(rollout))["pilot"].gate == gate


def test_it_reads_the_progress_in_a_number_of_queries_that_does_not_grow_with_the_fleet(
    make_rollout: Callable[..., Rollout],
    commits: dict[str, Commit],
    departments: dict[str, Department],
    make_host: Callable[..., Host],
) -> None:
    rollout = make_rollout({"pilot": 2 * HOUR, "early": HOUR})

    def queries() -> int:
        fresh = Rollout.objects.select_related("commit", "previous_commit", "stage").get(pk=rollout.pk)
        with CaptureQueriesContext(connection) as captured:
            ring_progress(fresh)
        return len(captured.captured_queries)

    few = queries()
    for index in range(30):
        department: Any = list(departments.values())[index % 4]
        check_in(make_host(f"host-{index}", department), booted_on(commits["new"].checksum), greenboot="green")
    assert queries() == few == 5


def test_it_expects_each_waiting_ring_when_the_ring_before_ends_its_soak(
    make_rollout: Callable[..., Rollout],
) -> None:
    rollout = make_rollout({"pilot": 2 * HOUR}, soak_time=24 * HOUR)
    now = timezone.now()

    pilot, early, broad = ring_etas(ring_progress(rollout, now=now), rollout=rollout, now=now)

    assert pilot == rollout.rings.get(name="pilot").moved_at
    assert early is not None
    assert broad is not None
    assert abs((early - now) - 22 * HOUR) < timedelta(seconds=30)
    assert broad - early == 24 * HOUR
    rollout.state = Rollout.State.HALTED
    assert ring_etas(ring_progress(rollout, now=now), rollout=rollout, now=now)[1:] == [None, None]


def test_each_listed_department_is_in_its_first_ring(prod: Stage, rings: dict[str, Ring], departments: Any) -> None:
    rings["broad"].departments.add(departments["it"])  # also in pilot, which comes first

    assert department_rings(prod) == {
        departments["it"].pk: rings["pilot"],
        departments["finance"].pk: rings["early"],
        departments["design"].pk: rings["broad"],
    }


def test_failures_on_a_ring_after_the_next_ring_moved_still_fail_its_gate_unless_accepted(
    make_rollout: Callable[..., Rollout],
    commits: dict[str, Commit],
    departments: dict[str, Department],
    make_host: Callable[..., Host],
) -> None:
    rollout = make_rollout({"pilot": 30 * HOUR, "early": HOUR})
    check_in(make_host("it-001", departments["it"]), booted_on(commits["new"].checksum), greenboot="red")

    assert by_name(ring_progress(rollout))["pilot"].gate == Gate.FAILING
    rollout.rings.filter(name="pilot").update(accepted_failures=1)
    assert by_name(ring_progress(rollout))["pilot"].gate == Gate.PASSED


def test_it_lists_per_commit_the_rings_it_reached_and_when(
    make_rollout: Callable[..., Rollout], commits: dict[str, Commit]
) -> None:
    rollout = make_rollout({"pilot": 30 * HOUR, "early": HOUR})
    moved = {ring.name: ring.moved_at for ring in rollout.rings.all()}

    assert ring_arrivals([commits["new"].pk, commits["old"].pk]) == {
        commits["new"].pk: [("pilot", moved["pilot"]), ("early", moved["early"])]
    }
