"""Reads for the rollout pages. Department heads only ever get their own departments.

Every host falls in exactly one rollout category, decided in SQL (first match wins):

- ``silent``: no check-in for more than ``PORTAL_SILENT_AFTER_DAYS`` days (or never);
- ``other``: follows another source: a ref that no stage of the portal publishes, or an image of a registry
  repository that no OCI stage is;
- ``staged``: an update is staged (or pending) and waits for a reboot;
- ``current``: boots the head of the ref it follows (for desktops, the prod ref; for the pilot ring, dev's);
- ``older``: boots an earlier commit of that ref (counted per version);
- ``unknown``: boots a commit that the ref it follows never pointed at.

A layered host is counted on the image it runs (``base-checksum``), which is what ``Host.booted_checksum`` holds.

Which ref a host follows: an ostree host the ref of an ostree stage named like its ``booted_ref`` (the later stage
wins); a bootc host the tag ``booted_ref`` of the OCI stage whose ``image_registry/image_repository`` is its
``booted_remote``, counted by image digest (what ``booted_checksum`` holds for it). A host rebased to a registry
image with rpm-ostree alone counts the same way, by the digest rpm-ostree reports beside the reference; an older
rpm-ostree that reports no digest leaves it ``other``.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    Exists,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Concat
from django.utils import timezone

from kinoite_portal.core.charts import Marker, Series, StackedChart, stacked_area_chart
from kinoite_portal.fleet.models import AdoptionSample, Department, Host
from kinoite_portal.fleet.status_parser import Signature
from kinoite_portal.releases.models import Commit, Ref, RefUpdate, Stage, image_source

CATEGORIES: list[tuple[str, str]] = [
    ("current", "On the current head"),
    ("older", "On an older published commit"),
    ("staged", "Staged, waiting for a reboot"),
    ("unknown", "On a commit the portal does not know"),
    ("other", "Following another source"),
    ("silent", "Silent"),
]
CATEGORY_NAMES = [name for name, _ in CATEGORIES]
# A bootc host that would boot an image nobody signed: its policy is bootc's "insecure", or it checks no signature.
UNSIGNED = Q(image_signature__in=Signature.ACCEPTS_UNSIGNED)


def visible_departments(user: Any) -> QuerySet[Department]:
    """Return the departments ``user`` may see: all for IT staff, their own for department heads."""
    if user.has_perm("fleet.view_all_departments"):
        return Department.objects.all()
    if user.has_perm("fleet.view_rollout"):
        return Department.objects.filter(heads=user)
    return Department.objects.none()


def department_host_counts(user: Any) -> QuerySet[Department]:
    """Return the visible departments with their number of hosts."""
    return visible_departments(user).annotate(host_count=Count("hosts"))


def prod_stage() -> Stage | None:
    """Return the stage desktops follow: the one named ``prod``, else the last stage."""
    return Stage.objects.filter(name="prod").first() or Stage.objects.order_by("-order").first()


def silent_cutoff(now: datetime | None = None) -> Any:
    """Return the time before which a host's last check-in makes it silent."""
    return (now or timezone.now()) - timedelta(days=settings.PORTAL_SILENT_AFTER_DAYS)


def _oci_source(stage_path: str) -> Concat:
    """Return REGISTRY/REPOSITORY of the OCI stage at ``stage_path``: what a bootc host's ``booted_remote`` holds."""
    return Concat(
        f"{stage_path}__image_registry", Value("/"), f"{stage_path}__image_repository", output_field=CharField()
    )


def source_key(*, is_container: bool, remote: str, ref: str) -> tuple[str, str]:
    """Return what a host follows as (OCI source or "" for ostree, ref or tag): the key refs are matched by."""
    return (remote, ref) if is_container else ("", ref)


def ref_source_key(*, kind: str, registry: str, repository: str, name: str) -> tuple[str, str]:
    """Return the ``source_key`` a host following the ref ``name`` of a stage of ``kind`` has."""
    return (image_source(kind=kind, registry=registry, repository=repository), name)


def hosts_with_category(queryset: QuerySet[Host] | None = None) -> QuerySet[Host]:
    """Return hosts annotated with ``category`` (see the module docstring), computed by the database."""
    queryset = Host.objects.all() if queryset is None else queryset
    # The later stage wins when two stages publish a ref of the same name.
    ostree_refs = Ref.objects.filter(stage__kind=Stage.Kind.OSTREE, name=OuterRef("booted_ref")).order_by(
        "-stage__order"
    )
    oci_refs = (
        Ref.objects.annotate(oci_source=_oci_source("stage"))
        .filter(stage__kind=Stage.Kind.OCI, name=OuterRef("booted_ref"), oci_source=OuterRef("booted_remote"))
        .order_by("-stage__order")
    )
    ostree_history = RefUpdate.objects.filter(
        ref__stage__kind=Stage.Kind.OSTREE,
        ref__name=OuterRef("booted_ref"),
        commit__checksum=OuterRef("booted_checksum"),
    )
    oci_history = RefUpdate.objects.annotate(oci_source=_oci_source("ref__stage")).filter(
        ref__stage__kind=Stage.Kind.OCI,
        ref__name=OuterRef("booted_ref"),
        oci_source=OuterRef("booted_remote"),
        commit__checksum=OuterRef("booted_checksum"),
    )
    container = Q(booted_is_container=True)
    return queryset.annotate(
        ref_head=Case(
            When(container, then=Subquery(oci_refs.values("head__checksum")[:1])),
            default=Subquery(ostree_refs.values("head__checksum")[:1]),
            output_field=CharField(),
        ),
        follows_stage=Case(
            When(container, then=Exists(oci_refs)), default=Exists(ostree_refs), output_field=BooleanField()
        ),
        in_history=Case(
            When(container, then=Exists(oci_history)), default=Exists(ostree_history), output_field=BooleanField()
        ),
        category=Case(
            When(Q(last_checkin_at__isnull=True) | Q(last_checkin_at__lt=silent_cutoff()), then=Value("silent")),
            When(follows_stage=False, then=Value("other")),
            When(~Q(staged_checksum=""), then=Value("staged")),
            When(booted_checksum=F("ref_head"), then=Value("current")),
            When(in_history=True, then=Value("older")),
            default=Value("unknown"),
            output_field=CharField(),
        ),
    )


def visible_hosts(user: Any) -> QuerySet[Host]:
    """Return the hosts of the departments ``user`` may see."""
    return Host.objects.filter(department__in=visible_departments(user))


@dataclass
class Cell:
    count: int = 0
    percent: float = 0.0


@dataclass
class RolloutRow:
    """Counts per category for one department (or one ref in one department)."""

    label: str
    department: Department | None = None
    ref: str = ""
    stage: str = ""
    image: str = ""  # REGISTRY/REPOSITORY for a tag of an OCI stage; "" for an ostree ref
    head_version: str = ""
    total: int = 0
    unsigned: int = 0  # bootc hosts that would boot an unsigned image (policy insecure or none)
    cells: dict[str, Cell] = field(default_factory=lambda: {name: Cell() for name in CATEGORY_NAMES})
    older_versions: list[tuple[str, int]] = field(default_factory=list)

    @property
    def following(self) -> str:
        """Return what the row's hosts follow as they report it: the ostree ref, or REGISTRY/REPOSITORY:TAG."""
        return f"{self.image}:{self.ref}" if self.image else self.ref

    def add(self, category: str, count: int) -> None:
        self.cells[category].count += count
        self.total += count

    def finish(self) -> None:
        for cell in self.cells.values():
            cell.percent = round(100.0 * cell.count / self.total, 1) if self.total else 0.0

    @property
    def ordered_cells(self) -> list[tuple[str, str, Cell]]:
        return [(name, label, self.cells[name]) for name, label in CATEGORIES]

    @property
    def segments(self) -> list[tuple[str, str, Cell, float]]:
        """Return the non-empty categories with where their part of a 100-wide bar starts."""
        out, start = [], 0.0
        for name, label, cell in self.ordered_cells:
            if cell.count:
                out.append((name, label, cell, start))
                start += cell.percent
        return out


@dataclass
class RolloutOverview:
    rows: list[RolloutRow]
    total: RolloutRow
    stage: Stage | None
    refs: list[Ref]


def _version_map(checksums: set[str]) -> dict[str, str]:
    return dict(Commit.objects.filter(checksum__in=checksums).values_list("checksum", "version")) if checksums else {}


def _category_counts(hosts: QuerySet[Host]) -> list[tuple[int, str, int, int]]:
    """Return ``(department id, category, hosts, unsigned)`` with the same categories as ``hosts_with_category``.

    ``unsigned`` counts the hosts of the group that would boot an unsigned image (``UNSIGNED``).

    A fleet runs a handful of commits, so the hosts are first grouped by what decides their category (one
    aggregate over the table, no per-host subquery), and only the groups are categorised: three small queries
    whatever the number of hosts.
    """
    cutoff = silent_cutoff()
    groups = list(
        hosts.order_by()
        .annotate(
            silent=Case(
                When(Q(last_checkin_at__isnull=True) | Q(last_checkin_at__lt=cutoff), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
            staged=Case(
                When(~Q(staged_checksum=""), then=Value(True)), default=Value(False), output_field=BooleanField()
            ),
        )
        .values_list(
            "department_id", "silent", "booted_is_container", "booted_remote", "booted_ref", "staged", "booted_checksum"
        )
        .annotate(n=Count("id"), unsigned=Count("id", filter=UNSIGNED))
    )
    names = {group[4] for group in groups}
    checksums = {group[6] for group in groups}
    # The later stage wins when two stages publish a ref of the same name (as in hosts_with_category).
    heads: dict[tuple[str, str], str | None] = {}
    for kind, registry, repository, name, head in (
        Ref.objects.filter(name__in=names)
        .order_by("stage__order")
        .values_list("stage__kind", "stage__image_registry", "stage__image_repository", "name", "head__checksum")
    ):
        heads[ref_source_key(kind=kind, registry=registry, repository=repository, name=name)] = head
    history = {
        (ref_source_key(kind=kind, registry=registry, repository=repository, name=name), checksum)
        for kind, registry, repository, name, checksum in RefUpdate.objects.filter(
            ref__name__in=names, commit__checksum__in=checksums
        ).values_list(
            "ref__stage__kind",
            "ref__stage__image_registry",
            "ref__stage__image_repository",
            "ref__name",
            "commit__checksum",
        )
    }
    out = []
    for department_id, silent, container, remote, ref, staged, checksum, n, unsigned in groups:
        key = source_key(is_container=container, remote=remote, ref=ref)
        if silent:
            category = "silent"
        elif key not in heads:
            category = "other"
        elif staged:
            category = "staged"
        elif heads[key] is not None and checksum == heads[key]:
            category = "current"
        elif (key, checksum) in history:
            category = "older"
        else:
            category = "unknown"
        out.append((department_id, category, n, unsigned))
    return out


def rollout_overview(user: Any) -> RolloutOverview:
    """Return per-department counts and percentages of the visible hosts; a constant number of queries."""
    stage = prod_stage()
    departments = list(visible_departments(user))
    rows = {d.pk: RolloutRow(label=d.name, department=d) for d in departments}
    total = RolloutRow(label="All departments")
    hosts = Host.objects.filter(department__in=[d.pk for d in departments])
    for department_id, category, n, unsigned in _category_counts(hosts):
        rows[department_id].add(category, n)
        total.add(category, n)
        rows[department_id].unsigned += unsigned
        total.unsigned += unsigned
    for row in [*rows.values(), total]:
        row.finish()
    refs = list(Ref.objects.filter(stage=stage).select_related("head")) if stage else []
    return RolloutOverview(rows=list(rows.values()), total=total, stage=stage, refs=refs)


def department_rollout(department: Department) -> tuple[list[RolloutRow], RolloutRow]:
    """Return one row per published ref or tag (plus one for other sources) for a department, and its total."""
    refs = Ref.objects.select_related("head", "stage").order_by("stage__order", "name")
    rows: dict[tuple[str, str], RolloutRow] = {}
    for ref in refs:
        key = ref_source_key(
            kind=ref.stage.kind, registry=ref.stage.image_registry, repository=ref.stage.image_repository, name=ref.name
        )
        rows[key] = RolloutRow(
            label=ref.name,
            ref=ref.name,
            stage=ref.stage.name,
            image=key[0],
            head_version=ref.head.version if ref.head else "",
        )
    other = RolloutRow(label="Other sources (other registries, remotes or refs)")
    total = RolloutRow(label="All", department=department)
    older: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    hosts = Host.objects.filter(department=department)
    counts = (
        hosts_with_category(hosts)
        .annotate(
            older_checksum=Case(
                When(category="older", then="booted_checksum"), default=Value(""), output_field=CharField()
            )
        )
        .order_by()
        .values("booted_remote", "booted_ref", "booted_is_container", "follows_stage", "category", "older_checksum")
        .annotate(n=Count("id"), unsigned=Count("id", filter=UNSIGNED))
    )
    for entry in counts:
        key = source_key(
            is_container=entry["booted_is_container"], remote=entry["booted_remote"], ref=entry["booted_ref"]
        )
        row = rows[key] if entry["follows_stage"] and key in rows else other
        row.add(entry["category"], entry["n"])
        total.add(entry["category"], entry["n"])
        total.unsigned += entry["unsigned"]
        if entry["older_checksum"]:
            by_ref = older[key]
            by_ref[entry["older_checksum"]] = by_ref.get(entry["older_checksum"], 0) + entry["n"]
    versions = _version_map({checksum for by_ref in older.values() for checksum in by_ref})
    for key, by_checksum in older.items():
        rows[key].older_versions = sorted(
            ((versions.get(checksum) or checksum[:10], n) for checksum, n in by_checksum.items()), reverse=True
        )
    result = [*rows.values(), other]
    for row in [*result, total]:
        row.finish()
    return result, total


@dataclass(frozen=True)
class HostFilters:
    department: str = ""
    category: str = ""
    search: str = ""
    unsigned: bool = False  # only bootc hosts that would boot an unsigned image


def host_list(user: Any, filters: HostFilters) -> QuerySet[Host]:
    """Return the visible hosts, with their category, filtered by department slug, category and a search term."""
    hosts = hosts_with_category(visible_hosts(user)).select_related("department")
    if filters.department:
        hosts = hosts.filter(department__slug=filters.department)
    if filters.unsigned:
        hosts = hosts.filter(UNSIGNED)
    if filters.category in CATEGORY_NAMES:
        hosts = hosts.filter(**{"category": filters.category})  # an annotation the type stubs cannot see
    if filters.search:
        term = filters.search.strip()
        hosts = hosts.filter(
            Q(hostname__icontains=term)
            | Q(machine_id__istartswith=term.lower())
            | Q(booted_version__icontains=term)
            | Q(booted_checksum__startswith=term.lower())
        )
    return hosts.order_by("hostname", "pk")


def host_detail(user: Any, pk: int) -> Host | None:
    """Return one visible host with its category, or None (also for hosts of departments the user does not head)."""
    return hosts_with_category(visible_hosts(user)).select_related("department").filter(pk=pk).first()


@dataclass(frozen=True)
class PilotEvidence:
    """How many hosts booted a commit, and how many of those are healthy."""

    checksum: str
    booted: int
    healthy: int
    red: int
    silent: int

    @property
    def unhealthy(self) -> int:
        return self.booted - self.healthy


def pilot_evidence(*, checksum: str) -> PilotEvidence:
    """Return how many hosts booted ``checksum`` (their image) and how many are healthy.

    Healthy: greenboot reported green, or the host checked in within the silent window with no red report.
    """
    recent = Q(last_checkin_at__gte=silent_cutoff())
    counts = Host.objects.filter(booted_checksum=checksum.lower()).aggregate(
        booted=Count("id"),
        healthy=Count("id", filter=Q(health=Host.Health.GREEN) | (recent & ~Q(health=Host.Health.RED))),
        red=Count("id", filter=Q(health=Host.Health.RED)),
        silent=Count("id", filter=~recent | Q(last_checkin_at__isnull=True)),
    )
    return PilotEvidence(checksum=checksum.lower(), **counts)


# --- Adoption over time (the rollout charts) ----------------------------------------------------------------------

ADOPTION_DAYS_SHOWN = 7
ADOPTION_SERIES_SHOWN = 5
ADOPTION_MIN_SPAN = timedelta(hours=6)
MARKER_KINDS: dict[str, str] = {
    RefUpdate.Source.PROMOTION: "promotion",
    RefUpdate.Source.ROLLBACK: "rollback",
    RefUpdate.Source.ROLLOUT: "ring",
}


@dataclass(frozen=True)
class AdoptionHistory:
    """Hosts per image per hour over a window, and the ref moves in it: what a rollout chart draws."""

    buckets: list[datetime]
    series: list[Series]
    markers: list[Marker]
    start: datetime
    end: datetime

    def chart(self, extra_markers: list[Marker] | None = None) -> StackedChart:
        return stacked_area_chart(
            buckets=self.buckets,
            series=self.series,
            markers=[*self.markers, *(extra_markers or [])],
            start=self.start,
            end=self.end,
        )


def _adoption_window(
    highlight: str | None, days: int, now: datetime | None
) -> tuple[Stage | None, str, datetime, datetime]:
    stage = prod_stage()
    if highlight is None:
        newest = Ref.objects.filter(stage=stage, head__isnull=False).order_by("-updated_at")
        highlight = newest.values_list("head__checksum", flat=True).first() or ""
    end = now or timezone.now()
    return stage, highlight, end - timedelta(days=days), end


def _ref_moves(stage: Stage | None, start: datetime, end: datetime, refs: list[str] | None) -> list[tuple[str, Marker]]:
    """Return (ref name, marker) for the ref moves in the window; composes never touch prod, imports move nothing."""
    moves = RefUpdate.objects.filter(moved_at__gte=start, moved_at__lte=end, ref__stage=stage).exclude(
        source__in=[RefUpdate.Source.COMPOSE, RefUpdate.Source.IMPORT]
    )
    if refs is not None:
        moves = moves.filter(ref__name__in=refs)
    # The few columns a marker shows: a commit row also holds its package list, which is costly to decode.
    rows = moves.order_by("moved_at").values_list(
        "ref__name", "moved_at", "source", "commit__version", "commit__checksum"
    )
    return [
        (
            ref,
            Marker(
                at=moved_at,
                label=f"{ref} → {version or checksum[:10]} ({RefUpdate.Source(source).label})",
                kind=MARKER_KINDS.get(source, "move"),
            ),
        )
        for ref, moved_at, source, version, checksum in rows[:100]
    ]


def _history(
    rows: list[tuple[datetime, str, int]],
    versions: dict[str, str],
    markers: list[Marker],
    highlight: str,
    start: datetime,
    end: datetime,
) -> AdoptionHistory:
    """Build one chart's layers from (hour, image, hosts) rows: the five biggest images, the highlight, the rest."""
    buckets = sorted({taken_at for taken_at, _, _ in rows})
    position = {bucket: index for index, bucket in enumerate(buckets)}
    per_image: dict[str, list[int]] = defaultdict(lambda: [0] * len(buckets))
    for taken_at, checksum, n in rows:
        per_image[checksum][position[taken_at]] += n
    ranked = sorted(per_image, key=lambda c: (c != highlight, -per_image[c][-1], -max(per_image[c])))
    shown = ranked[:ADOPTION_SERIES_SHOWN]
    if highlight in per_image and highlight not in shown:
        shown[-1] = highlight
    series = [
        Series(
            key=checksum,
            label=versions.get(checksum) or (checksum[:10] if checksum else "no image"),
            values=per_image[checksum],
            tone="new" if checksum == highlight and highlight else "",
        )
        for checksum in shown
    ]
    rest = [per_image[c] for c in ranked if c not in shown]
    if rest:
        others = [sum(values) for values in zip(*rest, strict=True)]
        series.append(Series(key="", label="other images", values=others, tone="other"))
    if buckets:
        # A short history fills the chart instead of a sliver at its right edge (but spans six hours at least).
        start = max(start, min(buckets[0], end - ADOPTION_MIN_SPAN))
    return AdoptionHistory(buckets=buckets, series=series, markers=markers, start=start, end=end)


ADOPTION_CACHE_SECONDS = 3600


def _first_sample_hour(start: datetime) -> datetime:
    """Return the first whole hour at or after ``start``: samples stand for whole hours, so ``taken_at >= start``
    and ``taken_at >= _first_sample_hour(start)`` select the same samples, and the key changes once an hour."""
    hour = start.replace(minute=0, second=0, microsecond=0)
    return hour if hour == start else hour + timedelta(hours=1)


def _cached_samples(name: str, since: datetime, filters: object, read: Callable[[], Any]) -> Any:
    """Return ``read()`` (grouped samples and their versions), kept per process until the samples change.

    The charts read a week of hourly samples per department, image and ref; grouping them costs the database
    far more than the page's other queries, yet they change once an hour (``adoption_sample_take``, which
    replaces the hour's rows: new ids) and commit versions never change. So the grouped rows are kept under the
    newest sample id and the window's first hour: one index lookup finds out whether they are still current.
    """
    newest = AdoptionSample.objects.aggregate(newest=Max("id"))["newest"]
    digest = hashlib.sha256(repr(filters).encode()).hexdigest()[:32]
    key = f"fleet:adoption:{name}:{newest}:{since.isoformat()}:{digest}"
    value = cache.get(key)
    if value is None:
        value = read()
        cache.set(key, value, ADOPTION_CACHE_SECONDS)
    return value


def adoption_history(
    *,
    department_ids: list[int] | None = None,
    refs: list[str] | None = None,
    highlight: str | None = None,
    days: int = ADOPTION_DAYS_SHOWN,
    now: datetime | None = None,
) -> AdoptionHistory:
    """Return the hourly adoption samples of some departments (None: all) and refs, summed per image.

    A constant number of queries whatever the fleet's size or history: the newest sample id, then, once per
    hour and process (``_cached_samples``), the samples grouped per hour and image by the database and the images'
    versions; and the ref moves of the window. The five biggest images get a layer each (the one in ``highlight``,
    by default the newest head of the prod stage, always does), the rest share one.
    """
    stage, highlight, start, end = _adoption_window(highlight, days, now)
    since = _first_sample_hour(start)

    def read() -> tuple[list[tuple[datetime, str, int]], dict[str, str]]:
        samples = AdoptionSample.objects.filter(taken_at__gte=since)
        if department_ids is not None:
            samples = samples.filter(department_id__in=department_ids)
        if refs is not None:
            samples = samples.filter(ref__in=refs)
        grouped = samples.order_by().values_list("taken_at", "checksum").annotate(n=Sum("hosts")).order_by("taken_at")
        rows = list(grouped)
        return rows, _version_map({checksum for _, checksum, _ in rows})

    filters = (
        sorted(department_ids) if department_ids is not None else None,
        sorted(refs) if refs is not None else None,
    )
    rows, versions = _cached_samples("history", since, filters, read)
    markers = [marker for _, marker in _ref_moves(stage, start, end, refs)]
    return _history(rows, versions, markers, highlight, start, end)


def adoption_history_per_ref(
    *, refs: list[str], highlight: str | None = None, days: int = ADOPTION_DAYS_SHOWN, now: datetime | None = None
) -> dict[str, AdoptionHistory]:
    """Return one history per ref (the rings' refs), read with the same queries as one history."""
    if not refs:
        return {}
    stage, highlight, start, end = _adoption_window(highlight, days, now)
    since = _first_sample_hour(start)

    def read() -> tuple[list[tuple[str, datetime, str, int]], dict[str, str]]:
        grouped = (
            AdoptionSample.objects.filter(taken_at__gte=since, ref__in=refs)
            .order_by()
            .values_list("ref", "taken_at", "checksum")
            .annotate(n=Sum("hosts"))
            .order_by("taken_at")
        )
        rows = list(grouped)
        return rows, _version_map({checksum for _, _, checksum, _ in rows})

    rows, versions = _cached_samples("per-ref", since, sorted(refs), read)
    moves = _ref_moves(stage, start, end, refs)
    return {
        ref: _history(
            [(taken_at, checksum, n) for name, taken_at, checksum, n in rows if name == ref],
            versions,
            [marker for name, marker in moves if name == ref],
            highlight,
            start,
            end,
        )
        for ref in refs
    }


@dataclass(frozen=True)
class ImageAdoption:
    """How far one image has reached: active hosts that boot it, have it staged, and since when hosts run it."""

    checksum: str
    booted: int
    staged: int
    active: int
    first_seen: datetime | None

    @property
    def percent(self) -> float:
        return round(100.0 * self.booted / self.active, 1) if self.active else 0.0


def image_adoption(*, checksum: str) -> ImageAdoption:
    """Return the adoption of ``checksum`` among the active hosts; two queries whatever the fleet's size."""
    checksum = checksum.lower()
    active = Host.objects.filter(last_checkin_at__gte=silent_cutoff())
    counts = active.aggregate(
        booted=Count("id", filter=Q(booted_checksum=checksum)),
        staged=Count("id", filter=Q(staged_checksum=checksum)),
        active=Count("id"),
    )
    first = (
        AdoptionSample.objects.filter(checksum=checksum, hosts__gt=0)
        .order_by("taken_at")
        .values_list("taken_at", flat=True)
        .first()
    )
    return ImageAdoption(checksum=checksum, first_seen=first, **counts)


def linkable_commits(user: Any, checksums: list[str]) -> set[str]:
    """Return which of ``checksums`` have a commit page that ``user`` may open (one query; none for dept. heads)."""
    wanted = {c for c in checksums if c}
    if not wanted or not user.has_perm("releases.view_commit"):
        return set()
    return set(Commit.objects.filter(checksum__in=wanted).values_list("checksum", flat=True))


def host_deployed_checksums() -> set[str]:
    """Return every commit a desktop boots, has staged or keeps as its rollback deployment (retention keeps them)."""
    wanted: set[str] = set()
    for row in Host.objects.values_list("booted_checksum", "staged_checksum", "rollback_checksum"):
        wanted.update(checksum for checksum in row if checksum)
    return wanted
