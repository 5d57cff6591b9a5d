"""Reads about rings and rollouts: which ring a host is in, and each ring's progress and gate.

Every host of the fleet is in exactly one ring of a stage that has rings (see ``Ring``). For a rollout, each host
falls in one category, decided by the database (first match wins), from evidence about the rollout's own commit only:

- ``silent``: no check-in for ``PORTAL_SILENT_AFTER_DAYS`` days (or never): not counted toward the gate;
- ``succeeded``: boots the commit (its ``base-checksum`` for layered hosts) as the default deployment, greenboot GREEN;
- ``failed``: after the ring's move, reported greenboot RED on the commit, a fallback boot with the commit deployed,
  or booted back to the previous commit with the new one as its rollback deployment;
- ``timed_out``: none of the above within the ring's update timeout after its move;
- ``pending``: the rest.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateTimeField,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from kinoite_portal.fleet.models import Department, Host
from kinoite_portal.fleet.selectors import silent_cutoff
from kinoite_portal.releases.models import Stage
from kinoite_portal.rollouts.models import Ring, Rollout, RolloutEvent, RolloutRing

HOST_CATEGORIES = ("succeeded", "failed", "pending", "timed_out", "silent")


class Gate:
    """The state of a ring's gate, i.e. whether the next ring may receive the commit."""

    WAITING = "waiting"  # this ring's ref has not moved yet
    MOVING = "moving"  # the worker is moving this ring's ref
    SOAKING = "soaking"  # moved; the soak time is not over
    BLOCKED = "blocked"  # soak over, success threshold not met
    AWAITING_APPROVAL = "awaiting_approval"  # passed; the next ring moves after an approver's click
    OPEN = "open"  # passed; the next ring moves by itself
    PASSED = "passed"  # the next ring has moved (or, for the last ring, the rollout is complete)
    FAILING = "failing"  # failure threshold crossed: the rollout halts
    HALTED = "halted"
    PAUSED = "paused"


@dataclass(frozen=True)
class RingProgress:
    """One ring of a rollout: host counts per category, the gate's state and the time until it can open."""

    ring: RolloutRing
    succeeded: int
    failed: int
    pending: int
    timed_out: int
    silent: int
    gate: str
    opens_in: timedelta | None

    @property
    def total(self) -> int:
        return self.succeeded + self.failed + self.pending + self.timed_out + self.silent

    @property
    def active(self) -> int:
        """Hosts that count toward the gate: all but the silent ones."""
        return self.total - self.silent

    @property
    def success_percent(self) -> float:
        return 100.0 * self.succeeded / self.active if self.active else 0.0

    @property
    def failure_percent(self) -> float:
        return 100.0 * self.failed / self.active if self.active else 0.0


def hosts_with_ring(stage: Stage, queryset: QuerySet[Host] | None = None) -> QuerySet[Host]:
    """Return hosts annotated with ``ring_pk``: the ring of ``stage`` each is in (None when the stage has no rings)."""
    queryset = Host.objects.all() if queryset is None else queryset
    rings = Ring.objects.filter(stage=stage)
    listed = rings.filter(hosts=OuterRef("pk")).order_by("order").values("pk")[:1]
    by_department = rings.filter(departments=OuterRef("department_id")).order_by("order").values("pk")[:1]
    last = rings.order_by("-order").values("pk")[:1]
    return queryset.annotate(
        ring_pk=Coalesce(Subquery(listed), Subquery(by_department), Subquery(last), output_field=IntegerField())
    )


def ring_for_host(*, host: Host, stage: Stage) -> Ring | None:
    """Return the ring of ``stage`` that ``host`` is in, or None when the stage has no rings."""
    # The Django stubs do not see the annotation made in hosts_with_ring.
    ring_pk = hosts_with_ring(stage, Host.objects.filter(pk=host.pk)).values("ring_pk")[:1]  # type: ignore[misc]
    return Ring.objects.filter(pk=Subquery(ring_pk)).first()


@dataclass(frozen=True)
class RingMembers:
    """A stage's rings in order, with their departments (prefetched) and the ids of their single hosts."""

    rings: list[Ring]
    hosts: dict[int, list[int]]


def ring_members(stage: Stage) -> RingMembers:
    """Return the rings of ``stage`` with their members, in three queries (rings, departments, single hosts).

    Read once per page and passed to ``ring_conditions``, ``ring_counts`` and ``department_rings``, which would
    otherwise each read the same lists again.
    """
    rings = list(Ring.objects.filter(stage=stage).prefetch_related("departments").order_by("order"))
    hosts: dict[int, list[int]] = defaultdict(list)
    if rings:
        through = Ring.hosts.through.objects.filter(ring_id__in=[ring.pk for ring in rings])
        for ring_id, host_id in through.values_list("ring_id", "host_id"):
            hosts[ring_id].append(host_id)
    return RingMembers(rings=rings, hosts=dict(hosts))


def ring_membership(stage: Stage, members: RingMembers | None = None) -> Case | None:
    """Return an SQL expression for the ring each host is in (see ``Ring``), or None when ``stage`` has no rings."""
    conditions = ring_conditions(stage, members)
    if conditions is None:
        return None
    ring_ids = {ring_id for _, ring_id in conditions[0]} | {conditions[1]}
    return _per_ring(conditions, {ring_id: ring_id for ring_id in ring_ids}, IntegerField())


def ring_conditions(stage: Stage, members: RingMembers | None = None) -> tuple[list[tuple[Q, int]], int] | None:
    """Return the conditions that put a host in each ring of ``stage``, first match wins, and the last ring's id.

    Built from the rings' member lists (``ring_members``, read here unless given), so the database compares
    columns with constants per host instead of running a subquery per host. None when the stage has no rings.
    """
    members = members if members is not None else ring_members(stage)
    if not members.rings:
        return None
    ring_ids = [ring.pk for ring in members.rings]
    departments = {ring.pk: [department.pk for department in ring.departments.all()] for ring in members.rings}
    listed = members.hosts
    # Single hosts before departments, earlier rings before later ones.
    conditions = [(Q(pk__in=listed[ring_id]), ring_id) for ring_id in ring_ids if listed.get(ring_id)]
    conditions += [(Q(department_id__in=departments[ring_id]), ring_id) for ring_id in ring_ids if departments[ring_id]]
    return conditions, ring_ids[-1]


def _per_ring(membership: tuple[list[tuple[Q, int]], int], values: dict[int, object], field: object) -> Case:
    """Return a flat CASE giving each host the value of its ring (``values``, None for rings not in it)."""
    conditions, last = membership
    return Case(
        *[When(condition, then=Value(values.get(ring_id))) for condition, ring_id in conditions],
        default=Value(values.get(last)),
        output_field=field,  # type: ignore[arg-type]
    )


def ring_counts(
    rollout: Rollout, rings: list[RolloutRing], now: datetime, members: RingMembers | None = None
) -> dict[int | None, dict[str, int]]:
    """Return {ring id: {category: hosts}} for the rollout's stage, in four queries whatever the fleet's size
    (one when ``members`` is given).

    The ring, its move time and whether its update timeout passed are flat CASEs over the members, so the grouped
    count reads each host once and nests nothing.
    """
    counts: dict[int | None, dict[str, int]] = defaultdict(lambda: dict.fromkeys(HOST_CATEGORIES, 0))
    membership = ring_conditions(rollout.stage, members)
    if membership is None:
        return counts
    _, last = membership
    ring_ids = {condition_ring for _, condition_ring in membership[0]} | {last}
    moved = {rr.ring_id: rr for rr in rings if rr.ring_id in ring_ids and rr.moved_at is not None}
    commit = rollout.commit.checksum
    previous = rollout.previous_commit.checksum if rollout.previous_commit else None
    on_commit = Q(booted_checksum=commit)
    fell_back = (Q(health=Host.Health.FALLBACK) | Q(booted_default=False)) & (
        Q(staged_checksum=commit) | Q(booted_checksum=commit)
    )
    evidence = (Q(health__in=[Host.Health.RED, Host.Health.FALLBACK]) & on_commit) | fell_back
    if previous:
        evidence |= Q(booted_checksum=previous, rollback_checksum=commit)
    timed_out = {ring_id: rr.times_out_at is not None and rr.times_out_at <= now for ring_id, rr in moved.items()}
    category = Case(
        When(Q(last_checkin_at__isnull=True) | Q(last_checkin_at__lt=silent_cutoff()), then=Value("silent")),
        When(on_commit & Q(booted_default=True, health=Host.Health.GREEN), then=Value("succeeded")),
        # A NULL move time (ring not moved) makes the comparison false: no failure before the move.
        When(Q(last_checkin_at__gte=F("ring_moved_at")) & evidence, then=Value("failed")),
        When(ring_timed_out=True, then=Value("timed_out")),
        default=Value("pending"),
        output_field=CharField(),
    )
    rows = (
        Host.objects.annotate(
            ring_pk=_per_ring(membership, {ring_id: ring_id for ring_id in ring_ids}, IntegerField()),
            ring_moved_at=_per_ring(membership, {i: rr.moved_at for i, rr in moved.items()}, DateTimeField()),
            ring_timed_out=_per_ring(membership, dict(timed_out.items()), BooleanField()),
        )
        .annotate(category=category)
        .order_by()
        .values("ring_pk", "category")
        .annotate(n=Count("pk"))
    )
    for row in rows:
        counts[row["ring_pk"]][row["category"]] = row["n"]
    return counts


def ring_is_failing(ring: RolloutRing, *, failed: int, active: int) -> bool:
    """Return whether ``ring``'s failures (beyond those an approver accepted on resuming) cross its threshold."""
    new_failures = failed - ring.accepted_failures
    return new_failures > 0 and new_failures * 100 >= ring.failure_threshold * active


def gate_state(
    *, rollout: Rollout, ring: RolloutRing, next_ring: RolloutRing | None, counts: dict[str, int], now: datetime
) -> str:
    """Return the state of ``ring``'s gate (see ``Gate``) from its host counts."""
    if ring.state == RolloutRing.State.WAITING:
        return Gate.WAITING
    if ring.state == RolloutRing.State.MOVING:
        return Gate.MOVING
    if rollout.state in (Rollout.State.COMPLETED, Rollout.State.SUPERSEDED) and (
        next_ring is None or next_ring.state != RolloutRing.State.WAITING
    ):
        return Gate.PASSED
    if rollout.state == Rollout.State.HALTED:
        return Gate.HALTED
    active = sum(counts.values()) - counts["silent"]
    # Checked before "passed": failures showing up on a ring after the next one moved still halt the rollout.
    if ring_is_failing(ring, failed=counts["failed"], active=active):
        return Gate.FAILING
    if next_ring is not None and next_ring.state != RolloutRing.State.WAITING:
        return Gate.PASSED
    if rollout.state == Rollout.State.PAUSED:
        return Gate.PAUSED
    assert ring.opens_at is not None  # moved
    if now < ring.opens_at:
        return Gate.SOAKING
    if active and counts["succeeded"] * 100 < ring.success_threshold * active:
        return Gate.BLOCKED
    if next_ring is None:
        return Gate.OPEN
    return Gate.OPEN if ring.auto_advance else Gate.AWAITING_APPROVAL


def ring_progress(
    rollout: Rollout, *, now: datetime | None = None, members: RingMembers | None = None
) -> list[RingProgress]:
    """Return, per ring of ``rollout`` in order, its host counts, gate state and time until the gate can open.

    Five queries whatever the number of hosts, check-ins and rings: the rollout's rings (with who advanced them),
    the rings' members (three, none when ``members`` is given), and one grouped count over the hosts.
    """
    now = now or timezone.now()
    rings = list(rollout.rings.select_related("ring", "advanced_by").order_by("order"))
    counts = ring_counts(rollout, rings, now, members)
    progress = []
    for index, ring in enumerate(rings):
        next_ring = rings[index + 1] if index + 1 < len(rings) else None
        # A ring deleted since the rollout started has no members left.
        ring_count = counts[ring.ring_id] if ring.ring_id in counts else dict.fromkeys(HOST_CATEGORIES, 0)
        opens_at = ring.opens_at
        progress.append(
            RingProgress(
                ring=ring,
                gate=gate_state(rollout=rollout, ring=ring, next_ring=next_ring, counts=ring_count, now=now),
                opens_in=max(opens_at - now, timedelta(0)) if opens_at else None,
                **ring_count,
            )
        )
    return progress


def active_rollouts(stage: Stage | None = None) -> QuerySet[Rollout]:
    """Return the rollouts still running, paused or halted, newest first."""
    queryset = Rollout.objects.filter(state__in=Rollout.ACTIVE_STATES).select_related(
        "stage", "commit", "previous_commit", "promotion"
    )
    return queryset.filter(stage=stage) if stage is not None else queryset


def rollouts_recent(*, active_only: bool = False, limit: int = 50) -> QuerySet[Rollout]:
    """Return the latest rollouts, newest first."""
    queryset = (
        active_rollouts() if active_only else Rollout.objects.select_related("stage", "commit", "previous_commit")
    )
    return queryset.order_by("-created_at", "-id")[:limit]


def rings_with_members() -> QuerySet[Ring]:
    """Return every stage's rings in order, with their departments and single hosts."""
    return (
        Ring.objects.select_related("stage").prefetch_related("departments", "hosts").order_by("stage__order", "order")
    )


def ring_etas(progress: list[RingProgress], *, rollout: Rollout, now: datetime | None = None) -> list[datetime | None]:
    """Return, per ring of ``progress``, when it got or is expected to get the commit (None: cannot say).

    A moved ring has its move time. A waiting ring is expected when the ring before it ends its soak time, at the
    earliest now; if a ring before it is blocked below its success threshold, or the rollout is halted or paused,
    nobody can say.
    """
    now = now or timezone.now()
    etas: list[datetime | None] = []
    previous: datetime | None = None
    stuck = rollout.state not in (Rollout.State.RUNNING, Rollout.State.COMPLETED)
    for index, item in enumerate(progress):
        ring = item.ring
        if ring.moved_at is not None:
            eta: datetime | None = ring.moved_at
        elif stuck or previous is None:
            eta = None
        else:
            before = progress[index - 1]
            stuck = stuck or before.gate in (Gate.BLOCKED, Gate.FAILING, Gate.HALTED)
            eta = None if stuck else max(previous + before.ring.soak_time, now)
        etas.append(eta)
        previous = eta
    return etas


def department_rings(stage: Stage, members: RingMembers | None = None) -> dict[int, Ring]:
    """Return {department id: the ring of ``stage`` its hosts are in} for every department a ring lists.

    Departments in no ring are in the stage's last ring, like single hosts outside rings.
    """
    members = members if members is not None else ring_members(stage)
    result: dict[int, Ring] = {}
    for ring in members.rings:  # in order: the earlier ring wins
        for department in ring.departments.all():
            result.setdefault(department.pk, ring)
    return result


def ring_arrivals(commit_ids: list[int]) -> dict[int, list[tuple[str, datetime]]]:
    """Return {commit id: [(ring name, when its ref moved to the commit), ...] in ring order}, in one query."""
    moved = (
        RolloutRing.objects.filter(rollout__commit_id__in=commit_ids, moved_at__isnull=False)
        .order_by("rollout__created_at", "order")
        .values_list("rollout__commit_id", "name", "moved_at")
    )
    arrivals: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    for commit_id, name, moved_at in moved:
        if moved_at is not None:
            arrivals[commit_id].append((name, moved_at))
    return dict(arrivals)


# --- The rollout page: which rollout to show, its timeline, and where each department stands ------------------------


@dataclass(frozen=True)
class Arrival:
    """When a ring got the commit, or the earliest it can get it and what it waits for."""

    at: datetime | None
    arrived: bool
    waits_for: str = ""  # "", "approval", "health" (a gate is blocked), "paused", "halted"


@dataclass(frozen=True)
class DepartmentPlacement:
    """Which ring a department's hosts are in for a stage, and when the rollout reaches that ring."""

    department: Department
    ring_name: str
    hosts: int
    elsewhere: list[tuple[str, int]]
    arrival: Arrival | None


@dataclass(frozen=True)
class RolloutPage:
    """Everything the rollout page shows about a stage's rings: the rollout (latest first) and its rings."""

    stage: Stage
    rings: list[Ring]
    rollout: Rollout | None
    progress: list[RingProgress]
    arrivals: dict[int, Arrival]
    events: list[RolloutEvent]
    placements: list[DepartmentPlacement]

    @property
    def next_waiting(self) -> RolloutRing | None:
        return next((item.ring for item in self.progress if item.ring.state == RolloutRing.State.WAITING), None)

    @property
    def moved_rings(self) -> list[RolloutRing]:
        return [item.ring for item in self.progress if item.ring.state == RolloutRing.State.MOVED]


def rollout_arrivals(rollout: Rollout, progress: list[RingProgress], *, now: datetime) -> dict[int, Arrival]:
    """Return, per rollout ring id, when the commit reached it or is expected to (``ring_etas``), and what it waits for.

    The expected time is the earliest the gates allow; a manual advance can only make it later, and a blocked gate,
    a pause or a halt leave it unknown: the arrival then says which of them it waits for.
    """
    hold = {Rollout.State.PAUSED: "paused", Rollout.State.HALTED: "halted"}.get(Rollout.State(rollout.state), "")
    arrivals: dict[int, Arrival] = {}
    waits = hold
    for item, eta in zip(progress, ring_etas(progress, rollout=rollout, now=now), strict=True):
        ring = item.ring
        if ring.moved_at is not None:
            arrivals[ring.pk] = Arrival(at=ring.moved_at, arrived=True)
            if not waits and item.gate in (Gate.BLOCKED, Gate.FAILING):
                waits = "health"
            elif not waits and not ring.auto_advance and item.gate != Gate.PASSED:
                waits = "approval"
            continue
        arrivals[ring.pk] = Arrival(at=eta, arrived=False, waits_for=waits)
        if not waits and not ring.auto_advance:
            waits = "approval"
    return arrivals


def _placements(
    stage: Stage, members: RingMembers, departments: list[Department], ring_arrival: dict[int, Arrival]
) -> list[DepartmentPlacement]:
    """Return where each department's hosts are (``ring_membership``): the ring holding most, and the others."""
    if not departments:
        return []
    rings = members.rings
    names = {ring.pk: ring.name for ring in rings}
    home = {department_id: ring.pk for department_id, ring in department_rings(stage, members).items()}
    by_department: dict[int, dict[int, int]] = defaultdict(dict)
    membership = ring_membership(stage, members)
    if membership is not None:
        rows = (
            Host.objects.filter(department__in=departments)
            .annotate(ring_pk=membership)
            .order_by()
            .values("department_id", "ring_pk")
            .annotate(n=Count("pk"))
        )
        for row in rows:
            by_department[row["department_id"]][row["ring_pk"]] = row["n"]
    placements = []
    for department in departments:
        counts = by_department.get(department.pk, {})
        main = max(counts, key=lambda pk: counts[pk]) if counts else home.get(department.pk, rings[-1].pk)
        placements.append(
            DepartmentPlacement(
                department=department,
                ring_name=names[main],
                hosts=counts.get(main, 0),
                elsewhere=sorted((names[pk], n) for pk, n in counts.items() if pk != main),
                arrival=ring_arrival.get(main),
            )
        )
    return placements


def rollout_page(
    *, stage: Stage | None, departments: list[Department], rollout: Rollout | None = None
) -> RolloutPage | None:
    """Return the stage's rings with its latest rollout (or ``rollout``), or None when the stage has no rings.

    A constant number of queries whatever the number of hosts and rings: rings with their members (three), the
    rollout, its ring progress (two), its events, and the departments' hosts grouped per ring.
    """
    if stage is None:
        return None
    members = ring_members(stage)
    rings = members.rings
    if not rings:
        return None
    if rollout is None:
        latest = Rollout.objects.filter(stage=stage).order_by("-created_at", "-id")
        rollout = latest.select_related("stage", "commit", "previous_commit", "promotion").first()
    now = timezone.now()
    progress = ring_progress(rollout, now=now, members=members) if rollout else []
    arrivals = rollout_arrivals(rollout, progress, now=now) if rollout else {}
    events = list(rollout.events.select_related("actor", "ring").order_by("-created_at", "-id")) if rollout else []
    ring_arrival = {item.ring.ring_id: arrivals[item.ring.pk] for item in progress if item.ring.ring_id}
    return RolloutPage(
        stage=stage,
        rings=rings,
        rollout=rollout,
        progress=progress,
        arrivals=arrivals,
        events=events,
        placements=_placements(stage, members, departments, ring_arrival),
    )
