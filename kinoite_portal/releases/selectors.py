"""Reads for the release pages, with a query count that does not grow with the data."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.ostree import Package, PackageChange, PackageDiff, Repo, diff_packages
from kinoite_portal.releases import rules
from kinoite_portal.releases.models import Commit, Compose, Promotion, Ref, RefUpdate, Stage, TreeDiff, Treefile

HISTORY = 8

# Commit columns lists and histories never show: the package list and metadata are the bulk of a row.
COMMIT_HEAVY_FIELDS = ("packages", "metadata", "body")


def without_heavy(prefix: str) -> list[str]:
    """Return the heavy Commit columns behind the relation ``prefix``, for ``defer()``."""
    return [f"{prefix}__{name}" for name in COMMIT_HEAVY_FIELDS]


def is_newer_than(commit: Commit, head: Commit | None) -> bool:
    """Return True when ``commit`` is a new tree at least as recent as ``head`` (what the target runs), or none runs."""
    return head is None or (commit.timestamp >= head.timestamp and commit.content_checksum != head.content_checksum)


def stage_list() -> list[Stage]:
    """Return the stages in pipeline order (dev first)."""
    return list(Stage.objects.order_by("order"))


def unsigned_published_stages(stages: list[Stage] | None = None) -> list[Stage]:
    """Return the stages desktops pull from that have no signing key.

    Desktops pull from every stage a promotion publishes into, that is every stage after the first; the first (dev)
    holds fresh composes that only pilot machines follow.
    """
    ordered = sorted(stages if stages is not None else stage_list(), key=lambda stage: stage.order)
    return [stage for stage in ordered[1:] if stage.signing_key_id is None]


def compose_list(*, limit: int = 100) -> QuerySet[Compose]:
    """Return the latest composes with what the list page shows."""
    return Compose.objects.select_related("treefile", "revision", "commit", "requested_by").defer("log")[:limit]


def promotion_list(*, limit: int = 100) -> QuerySet[Promotion]:
    """Return the latest promotions with what the list page shows: versions and checksums, no package lists."""
    return Promotion.objects.select_related(
        "commit", "published_commit", "source_stage", "target_stage", "requested_by"
    ).defer("log", *without_heavy("commit"), *without_heavy("published_commit"))[:limit]


def audit_event_list(
    *, actor: str = "", action: str = "", object_type: str = "", object_id: str = ""
) -> QuerySet[AuditEvent]:
    """Return the audit events, newest first, filtered by actor, action prefix, object type and object id."""
    events = AuditEvent.objects.select_related("actor")
    if actor:
        events = events.filter(Q(actor__username=actor) | Q(actor_label=actor))
    if action:
        events = events.filter(action__startswith=action)
    if object_type:
        events = events.filter(object_type=object_type)
    if object_id:
        events = events.filter(object_id=object_id)
    return events.order_by("-created_at", "-id")


@dataclass
class TreefileLane:
    treefile: Treefile
    source: Stage
    target: Stage
    source_ref: Ref | None
    target_ref: Ref | None
    source_history: list[RefUpdate] = field(default_factory=list)
    target_history: list[RefUpdate] = field(default_factory=list)
    newer: list[Commit] = field(default_factory=list)
    open_promotions: list[Promotion] = field(default_factory=list)

    @property
    def target_head(self) -> Commit | None:
        return self.target_ref.head if self.target_ref else None


def dashboard_lanes(stages: list[Stage]) -> list[TreefileLane]:
    """Return, per treefile, dev and prod history side by side, what prod runs, newer dev commits, open requests.

    ``stages`` is ``stage_list()``. Only the last ``HISTORY`` moves of each ref are read (one windowed query),
    whatever the length of the history.
    """
    if len(stages) < 2:
        return []
    source, target = stages[0], stages[1]
    treefiles = list(Treefile.objects.order_by("name"))
    refs = {
        (r.stage_id, r.name): r
        for r in Ref.objects.filter(stage__in=[source, target]).select_related("head").defer(*without_heavy("head"))
    }
    updates = list(
        RefUpdate.objects.filter(ref__in=refs.values())
        .annotate(
            recent=Window(RowNumber(), partition_by=[F("ref_id")], order_by=[F("moved_at").desc(), F("id").desc()])
        )
        .filter(recent__lte=HISTORY)
        .select_related("commit")
        .defer(*without_heavy("commit"))
        .order_by("-moved_at", "-id")
    )
    open_promotions = list(
        Promotion.objects.filter(state__in=Promotion.OPEN_STATES)
        .select_related("commit", "requested_by", "target_stage")
        .defer("log", *without_heavy("commit"))
        .order_by("-requested_at")
    )
    lanes = []
    for treefile in treefiles:
        src = refs.get((source.pk, treefile.ref))
        dst = refs.get((target.pk, treefile.published_ref))
        lane = TreefileLane(treefile, source, target, src, dst)
        lane.source_history = [u for u in updates if src and u.ref_id == src.pk]
        lane.target_history = [u for u in updates if dst and u.ref_id == dst.pk]
        head = lane.target_head
        seen: set[int] = set()
        # "newer" marks rows of the shown dev history only, so it needs no more rows than the history shows.
        for update in lane.source_history:
            commit = update.commit
            if commit.pk in seen:
                continue
            seen.add(commit.pk)
            if is_newer_than(commit, head):
                lane.newer.append(commit)
        lane.open_promotions = [
            p for p in open_promotions if p.treefile_id == treefile.pk or p.target_ref == treefile.published_ref
        ]
        lanes.append(lane)
    return lanes


def any_job_running() -> bool:
    """Return True while a promotion is queued or running (the dashboard then polls)."""
    return Promotion.objects.filter(state__in=[Promotion.State.QUEUED, Promotion.State.RUNNING]).exists()


def packages_of(commit: Commit) -> list[Package]:
    return [Package(p[0], int(p[1]), p[2], p[3], p[4]) for p in commit.packages]


@dataclass
class CommitEvidence:
    commit: Commit
    compared_to: Commit | None
    package_diff: PackageDiff | None
    file_diff: TreeDiff | None
    file_diff_error: str = ""
    composes: list[Compose] = field(default_factory=list)
    promotions: list[Promotion] = field(default_factory=list)
    stages_holding: list[str] = field(default_factory=list)


def _package(values: list[object]) -> Package:
    name, epoch, version, release, arch = values
    return Package(str(name), int(str(epoch)), str(version), str(release), str(arch))


def stored_package_diff(diff: TreeDiff) -> PackageDiff:
    """Return the package changes a worker stored, as the pages show them."""
    changes = diff.package_changes or {}
    added = [_package(p) for p in changes.get("added", [])]
    removed = [_package(p) for p in changes.get("removed", [])]
    return PackageDiff(
        added=[PackageChange(p.name, None, p) for p in added],
        removed=[PackageChange(p.name, p, None) for p in removed],
        upgraded=[PackageChange(o[0], _package(o), _package(n)) for o, n in changes.get("upgraded", [])],
        downgraded=[PackageChange(o[0], _package(o), _package(n)) for o, n in changes.get("downgraded", [])],
    )


def commit_evidence(commit: Commit, *, against: Commit | None) -> CommitEvidence:
    """Return what the commit and approval pages show: the stored package and file changes against ``against``.

    Pages never run ostree: a worker counted the changes when the commit was imported or the promotion requested.
    """
    evidence = CommitEvidence(commit=commit, compared_to=against, package_diff=None, file_diff=None)
    if against is not None and against.pk != commit.pk:
        if against.content_checksum == commit.content_checksum:
            evidence.package_diff = PackageDiff()
            evidence.file_diff = TreeDiff(old_tree=against.content_checksum, new_tree=commit.content_checksum)
        else:
            stored = TreeDiff.objects.filter(
                old_tree=against.content_checksum, new_tree=commit.content_checksum
            ).first()
            if stored is None:
                # Packages come from the database alone; only the file count waits for the worker.
                evidence.package_diff = diff_packages(packages_of(against), packages_of(commit))
                evidence.file_diff_error = "The worker has not counted the changed files yet."
            else:
                evidence.package_diff = stored_package_diff(stored)
                evidence.file_diff = None if stored.error else stored
                evidence.file_diff_error = stored.error
    evidence.composes = list(Compose.objects.filter(commit=commit).select_related("treefile").defer("log")[:5])
    evidence.promotions = list(
        Promotion.objects.filter(Q(commit=commit) | Q(published_commit=commit))
        .select_related("target_stage", "requested_by")
        .defer("log")
        .order_by("-requested_at")
    )
    evidence.stages_holding = sorted(
        set(RefUpdate.objects.filter(commit=commit).values_list("ref__stage__name", flat=True))
    )
    return evidence


def target_head_for(treefile: Treefile | None, target: Stage | None) -> Commit | None:
    """Return the commit ``target`` publishes for ``treefile`` now, or None."""
    if treefile is None or target is None:
        return None
    ref = Ref.objects.filter(stage=target, name=treefile.published_ref).select_related("head").first()
    return ref.head if ref else None


def treefile_owning(ref_names: Iterable[str]) -> Treefile | None:
    """Return the treefile that composes to (dev ref) or publishes as (published ref) one of ``ref_names``.

    The one answer to "which treefile owns this ref", for promotions, rollbacks and the commit page.
    """
    owners = treefiles_owning(ref_names)
    return owners[0] if owners else None


def treefiles_owning(ref_names: Iterable[str]) -> list[Treefile]:
    """Return every treefile whose dev or published ref is one of ``ref_names`` (more than one: ambiguous)."""
    names = set(ref_names)
    # The dev ref lives in the treefile's content (JSON), so it is compared here rather than in the query.
    if not names:
        return []
    return [t for t in Treefile.objects.order_by("name") if t.ref in names or t.published_ref in names]


def treefile_choices(commit: Commit, ref_updates: list[RefUpdate]) -> list[Treefile]:
    """Return the treefiles a requester picks from, or [] when the commit's refs name exactly one."""
    owners = treefiles_owning({u.ref.name for u in ref_updates} | set(commit.ref_binding or []))
    if len(owners) == 1:
        return []
    return owners or list(Treefile.objects.order_by("name"))


def commit_ref_names(commit: Commit, *, stage: Stage | None = None) -> set[str]:
    """Return the refs that held ``commit`` (in ``stage`` when given) and the refs its binding names."""
    updates = RefUpdate.objects.filter(commit=commit)
    if stage is not None:
        updates = updates.filter(ref__stage=stage)
    return set(updates.values_list("ref__name", flat=True)) | set(commit.ref_binding or [])


def treefile_of(commit: Commit, ref_updates: list[RefUpdate]) -> Treefile | None:
    """Return the treefile whose dev or published ref held this commit."""
    return treefile_owning({u.ref.name for u in ref_updates} | set(commit.ref_binding or []))


def promotion_can_vote(user: Any, promotion: Promotion) -> bool:
    """Return True when ``user``'s approve or reject of ``promotion`` would count now."""
    voted = promotion.approvals.filter(user_id=user.pk).exists()
    return rules.vote_refusal(user=user, promotion=promotion, already_voted=voted) is None


def promotion_can_cancel(user: Any, promotion: Promotion) -> bool:
    """Return True when ``user`` may cancel ``promotion`` now."""
    return rules.cancel_refusal(user=user, promotion=promotion) is None


def _repo_has_commit(stage: Stage, checksum: str) -> bool:
    """Return whether ``stage``'s repo still holds the commit (a look at one file, no ostree run)."""
    repo = Repo(stage.repo_dir)
    return repo.exists() and repo.has_commit(checksum)


@dataclass
class CommitPage:
    commit: Commit
    target: Stage | None
    treefile: Treefile | None
    target_head: Commit | None
    ref_updates: list[RefUpdate]
    evidence: CommitEvidence
    open_promotion: Promotion | None
    in_source: bool
    in_target: bool

    @property
    def promotable(self) -> bool:
        """Return True when the commit is only in earlier stages, newer than the target, with no open request."""
        return (
            self.in_source
            and not self.in_target
            and is_newer_than(self.commit, self.target_head)
            and self.open_promotion is None
        )

    @property
    def restorable(self) -> bool:
        """Return True when the target published this commit's tree before, runs another one now, and still holds
        the commit (retention may have pruned it: rollback_request refuses that, so the page offers nothing)."""
        return (
            self.in_target
            and self.target_head is not None
            and self.target_head.content_checksum != self.commit.content_checksum
            and self.target is not None
            and _repo_has_commit(self.target, self.commit.checksum)
        )


def commit_page(commit: Commit) -> CommitPage:
    """Return what the commit page shows: where the commit has been, its evidence against the last stage's head."""
    stages = stage_list()
    target = stages[-1] if stages else None
    refs = list(RefUpdate.objects.filter(commit=commit).select_related("ref", "ref__stage").order_by("moved_at"))
    treefile = treefile_of(commit, refs)
    target_head = target_head_for(treefile, target)
    return CommitPage(
        commit=commit,
        target=target,
        treefile=treefile,
        target_head=target_head,
        ref_updates=refs,
        evidence=commit_evidence(commit, against=target_head),
        open_promotion=Promotion.objects.filter(commit=commit, state__in=Promotion.OPEN_STATES).first(),
        in_source=target is not None and any(u.ref.stage_id != target.pk for u in refs),
        in_target=target is not None and any(u.ref.stage_id == target.pk for u in refs),
    )


def promotion_detail(pk: int) -> Promotion:
    return Promotion.objects.select_related(
        "commit",
        "commit__recommit_of",
        "commit__restores",
        "published_commit",
        "previous_head",
        "source_stage",
        "target_stage",
        "requested_by",
        "treefile",
    ).get(pk=pk)
