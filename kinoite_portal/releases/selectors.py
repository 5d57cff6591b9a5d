"""Reads for the release pages, with a query count that does not grow with the data."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import F, Min, Q, QuerySet, Window
from django.db.models.functions import Length, RowNumber, Substr
from django.template.defaultfilters import pluralize
from django.utils import timezone

from kinoite_portal.core.models import AuditEvent
from kinoite_portal.ostree import Package, PackageChange, PackageDiff, Repo, diff_packages
from kinoite_portal.releases import rules
from kinoite_portal.releases.models import (
    Approval,
    Commit,
    Compose,
    Promotion,
    Ref,
    RefUpdate,
    Stage,
    TreeDiff,
    Treefile,
)
from kinoite_portal.releases.services.policy import PolicyResult

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


def compose_list() -> QuerySet[Compose]:
    """Return the composes, newest first, with what the list page shows (the page slices it)."""
    return (
        Compose.objects.select_related("treefile", "revision", "commit", "requested_by")
        .defer("log", *without_heavy("commit"))
        .order_by("-created_at", "-id")
    )


def promotion_list() -> QuerySet[Promotion]:
    """Return the promotions, newest first, with what the list page shows: versions and checksums, no package lists."""
    return (
        Promotion.objects.select_related("commit", "published_commit", "source_stage", "target_stage", "requested_by")
        .defer("log", *without_heavy("commit"), *without_heavy("published_commit"))
        .order_by("-requested_at", "-id")
    )


@dataclass(frozen=True)
class LogTail:
    """The part of a job log after an offset (in characters), and the offset to ask for next."""

    text: str
    offset: int
    finished: bool


def compose_log_tail(*, pk: int, offset: int) -> LogTail:
    """Return the compose log after ``offset`` characters, read by the database (never the whole log)."""
    row = (
        Compose.objects.filter(pk=pk)
        .annotate(size=Length("log"), tail=Substr("log", offset + 1))
        .values("size", "tail", "state")
        .get()
    )
    # Read in one statement, so size and tail agree even while the worker appends.
    tail = row["tail"] if offset < row["size"] else ""
    return LogTail(text=tail, offset=max(offset, row["size"]), finished=row["state"] in Compose.FINISHED_STATES)


def requestable_commit_ids(composes: list[Compose]) -> set[int]:
    """Return the ids of the composes' commits whose next step is a promotion request.

    That is a commit newer than what the last stage publishes for its treefile, with no open request yet. Two
    queries, whatever the number of composes.
    """
    commits = {c.commit_id: c for c in composes if c.commit_id}
    stages = stage_list()
    if not commits or len(stages) < 2:
        return set()
    target = stages[-1]
    published = {c.treefile.published_ref for c in composes}
    refs = Ref.objects.filter(stage=target, name__in=published).select_related("head").defer(*without_heavy("head"))
    heads = {r.name: r.head for r in refs}
    requested = set(
        Promotion.objects.filter(commit_id__in=commits, state__in=Promotion.OPEN_STATES).values_list(
            "commit_id", flat=True
        )
    )
    return {
        commit_id
        for commit_id, compose in commits.items()
        if commit_id not in requested
        and compose.commit is not None
        and is_newer_than(compose.commit, heads.get(compose.treefile.published_ref))
    }


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
    def requestable(self) -> list[Commit]:
        """Return the newer dev commits that no open request names yet: their next step is a promotion request."""
        requested = {p.commit_id for p in self.open_promotions}
        return [c for c in self.newer if c.pk not in requested]

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
    # Why no package changes are shown (an image that carries no rpm database, or whose list is not read yet).
    package_note: str = ""
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


def _package_note(commit: Commit, against: Commit) -> str:
    """Return why the package lists of two images cannot be compared ("" when they can, or neither is an image).

    Only images load their metadata here: an ostree commit always has its list.
    """
    for side in (against, commit):
        if not side.is_image:
            continue
        label = f"Image {side.checksum[:12]}" + (f" ({side.version})" if side.version else "")
        if side.carries_no_package_database:
            return f"{label} carries no package database, so no package changes can be shown."
        if side.package_database is None:
            return f"{label}: its package list has not been read (yet); the worker's log says why when it failed."
    return ""


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
        evidence.package_note = _package_note(commit, against)
        if evidence.package_note:
            evidence.package_diff = None
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
    ref = (
        Ref.objects.filter(stage=target, name=treefile.published_ref)
        .select_related("head")
        .defer(*without_heavy("head"))
        .first()
    )
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


def promotion_votes(promotion: Promotion, *, viewer: Any) -> list[Approval]:
    """Return the votes on ``promotion`` with their users; the viewer's own vote carries ``viewer`` itself, whose
    permissions the page has loaded already (the policy asks each voter's)."""
    votes = list(promotion.approvals.select_related("user"))
    for vote in votes:
        if viewer is not None and vote.user_id == viewer.pk:
            vote.user = viewer
    return votes


def promotion_can_vote(user: Any, promotion: Promotion, *, votes: list[Approval] | None = None) -> bool:
    """Return True when ``user``'s approve or reject of ``promotion`` would count now (``votes``: read already)."""
    if votes is None:
        voted = promotion.approvals.filter(user_id=user.pk).exists()
    else:
        voted = any(vote.user_id == user.pk for vote in votes)
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
    """Return a promotion with what its page shows; the commits' package lists stay in the database (a worker stored
    the changes between them), since a Kinoite-sized list is what made the page slow."""
    commits = ("commit", "commit__recommit_of", "commit__restores", "published_commit", "previous_head")
    return (
        Promotion.objects.select_related(*commits, "source_stage", "target_stage", "requested_by", "treefile")
        .defer(*(field for relation in commits for field in without_heavy(relation)))
        .get(pk=pk)
    )


# --- One timeline per promotion -------------------------------------------------------------------------------------

OUTCOMES = {
    Promotion.State.REQUESTED: "is waiting for its conditions",
    Promotion.State.APPROVED: "is approved and being queued",
    Promotion.State.QUEUED: "is approved and queued for a worker",
    Promotion.State.RUNNING: "is running",
    Promotion.State.SUCCEEDED: "succeeded",
    Promotion.State.FAILED: "failed",
    Promotion.State.REJECTED: "was rejected",
    Promotion.State.CANCELLED: "was cancelled",
}


def promotion_noun(promotion: Promotion) -> str:
    return "rollback" if promotion.kind == Promotion.Kind.ROLLBACK else "promotion"


def promotion_outcome(promotion: Promotion) -> str:
    """Return a sentence on where the promotion stands, e.g. "This rollback was rejected"."""
    return f"This {promotion_noun(promotion)} {OUTCOMES[Promotion.State(promotion.state)]}."


@dataclass(frozen=True)
class TimelineStep:
    """One step of a promotion's life: requested, approvals, eligible, running, published, rollout."""

    key: str
    title: str
    status: str  # done, current, waiting, failed or skipped
    detail: str = ""
    at: datetime | None = None


def promotion_timeline(
    promotion: Promotion, policy: PolicyResult, *, now: datetime | None = None
) -> list[TimelineStep]:
    """Return the steps of one promotion, each with its state, from its row and its policy outcome.

    Every panel of the promotion page reads where the promotion stands from here, so they cannot disagree.
    """
    now = now or timezone.now()
    state = promotion.state
    states = Promotion.State
    past_vote = state in (states.APPROVED, states.QUEUED, states.RUNNING, states.SUCCEEDED, states.FAILED)
    ended_early = state in (states.REJECTED, states.CANCELLED)
    source = promotion.source_stage.name
    steps = [
        TimelineStep(
            "requested", "Requested", "done", f"by {promotion.requested_by or 'automation'}", promotion.requested_at
        )
    ]

    approvals = f"Approvals {policy.approvals_counted}/{policy.approvals_needed}"
    if policy.rejected or state == states.REJECTED:
        steps.append(TimelineStep("approvals", approvals, "failed", "Rejected: a single reject ends this request."))
    elif past_vote or policy.approvals_counted >= policy.approvals_needed:
        steps.append(TimelineStep("approvals", approvals, "done", "from the approvers group", promotion.approved_at))
    else:
        more = policy.approvals_needed - policy.approvals_counted
        waiting = f"waiting for {more} more approval{pluralize(more)} from the approvers group"
        steps.append(TimelineStep("approvals", approvals, "skipped" if ended_early else "current", waiting))

    if promotion.kind == Promotion.Kind.ROLLBACK or policy.min_days <= 0:
        why = "rollbacks have no minimum time" if promotion.kind == Promotion.Kind.ROLLBACK else "no minimum time set"
        steps.append(TimelineStep("eligible", "Eligible", "done", why))
    elif policy.time_met or past_vote:
        since = now - timedelta(days=policy.days_in_source)
        if policy.days_in_source >= policy.min_days:
            detail = f"{policy.min_days} days in {source} (the minimum)"
        else:
            detail = f"expedited after {policy.days_in_source:.1f} of {policy.min_days} days in {source}"
        steps.append(TimelineStep("eligible", "Eligible", "done", detail, since + timedelta(days=policy.min_days)))
    else:
        eligible_at = now + timedelta(days=policy.days_remaining)
        detail = f"{policy.days_in_source:.1f} of {policy.min_days} days in {source}; or expedite with a reason"
        steps.append(
            TimelineStep("eligible", "Eligible on", "skipped" if ended_early else "waiting", detail, eligible_at)
        )

    if state == states.QUEUED:
        steps.append(TimelineStep("running", "Running", "current", "queued: waiting for a worker", promotion.queued_at))
    elif state == states.APPROVED:
        steps.append(TimelineStep("running", "Running", "current", "approved: being queued", promotion.approved_at))
    elif state == states.RUNNING:
        steps.append(TimelineStep("running", "Running", "current", "a worker is publishing it", promotion.started_at))
    elif state in (states.SUCCEEDED, states.FAILED) and promotion.started_at:
        steps.append(TimelineStep("running", "Ran", "done", "", promotion.started_at))
    else:
        detail = "" if ended_early else "starts by itself once every step above is done"
        steps.append(
            TimelineStep(
                "running", "Running", "skipped" if ended_early or state == states.FAILED else "waiting", detail
            )
        )

    target = f"{promotion.target_stage.name}:{promotion.target_ref}"
    if state == states.SUCCEEDED:
        published = promotion.published_commit or promotion.commit
        steps.append(
            TimelineStep("published", "Published", "done", f"{published.version} as {target}", promotion.finished_at)
        )
        steps.append(TimelineStep("rollout", "Rollout", "current", "desktops pick it up on their next upgrade"))
    else:
        if state == states.FAILED:
            steps.append(
                TimelineStep("published", "Not published", "failed", promotion.failure_reason, promotion.finished_at)
            )
        else:
            steps.append(
                TimelineStep("published", "Published", "skipped" if ended_early else "waiting", f"as {target}")
            )
        steps.append(
            TimelineStep("rollout", "Rollout", "skipped" if ended_early or state == states.FAILED else "waiting")
        )

    if state == states.CANCELLED:
        # Where the request stopped: before the first step it had not reached.
        stopped = next((i for i, step in enumerate(steps) if step.status != "done"), len(steps))
        steps.insert(stopped, TimelineStep("cancelled", "Cancelled", "failed", "", promotion.finished_at))
    return steps


# --- The approvers' queue ------------------------------------------------------------------------------------------


def promotions_needing_review(user: Any) -> QuerySet[Promotion]:
    """Return the requests waiting for ``user``'s vote: open for votes, not theirs, not voted on by them."""
    if not user.has_perm("releases.approve_promotion"):
        return Promotion.objects.none()
    return (
        Promotion.objects.filter(state=Promotion.State.REQUESTED)
        .exclude(requested_by=user)
        .exclude(approvals__user=user)
    )


def in_source_since(promotions: list[Promotion]) -> dict[int, datetime]:
    """Return, per promotion, since when its commit has been in the source stage (its first ref move there, else the
    commit's own date). One query for any number of promotions."""
    firsts = {
        (row["commit_id"], row["ref__stage_id"]): row["first"]
        for row in RefUpdate.objects.filter(
            commit_id__in={p.commit_id for p in promotions}, ref__stage_id__in={p.source_stage_id for p in promotions}
        )
        .values("commit_id", "ref__stage_id")
        .annotate(first=Min("moved_at"))
        .order_by()
    }
    return {p.pk: firsts.get((p.commit_id, p.source_stage_id)) or p.commit.timestamp for p in promotions}


@dataclass(frozen=True)
class QueueRow:
    """What still holds a request back, for the promotions list."""

    approvals_counted: int
    approvals_needed: int
    days_in_source: int | None  # None: no minimum time applies (rollback, none configured, expedited with a reason)
    min_days: int
    superseded_by: int | None

    @property
    def approvals_missing(self) -> bool:
        return self.approvals_counted < self.approvals_needed

    @property
    def days_missing(self) -> bool:
        return self.days_in_source is not None and self.days_in_source < self.min_days


def promotion_queue_rows(promotions: list[Promotion], *, now: datetime | None = None) -> dict[int, QueueRow]:
    """Return, for each open request on a page, what blocks it and whether a newer open request supersedes it.

    Approvals come from the policy outcome stored at each vote; days are counted now. Two queries per page.
    """
    now = now or timezone.now()
    waiting = [p for p in promotions if p.state == Promotion.State.REQUESTED]
    since = in_source_since(waiting) if waiting else {}
    newest_open: dict[tuple[int, str], tuple[datetime, int]] = {}
    for pk, stage_id, ref, requested_at in Promotion.objects.filter(state__in=Promotion.OPEN_STATES).values_list(
        "pk", "target_stage_id", "target_ref", "requested_at"
    ):
        key = (stage_id, ref)
        if key not in newest_open or (requested_at, pk) > newest_open[key]:
            newest_open[key] = (requested_at, pk)
    rows = {}
    for promotion in promotions:
        if not promotion.is_open:
            continue
        newest = newest_open.get((promotion.target_stage_id, promotion.target_ref))
        superseded_by = newest[1] if newest and newest[1] != promotion.pk else None
        policy = promotion.policy or {}
        stage = promotion.target_stage
        timed = (
            promotion.kind == Promotion.Kind.PROMOTE
            and stage.min_days_in_previous_stage > 0
            and not (promotion.expedited and promotion.expedite_reason.strip())
        )
        days = int((now - since[promotion.pk]).total_seconds() // 86400) if timed and promotion.pk in since else None
        rows[promotion.pk] = QueueRow(
            approvals_counted=int(policy.get("approvals_counted", 0)),
            approvals_needed=int(policy.get("approvals_needed", 1)),
            days_in_source=days,
            min_days=stage.min_days_in_previous_stage,
            superseded_by=superseded_by,
        )
    return rows


def promotion_superseded_by(promotion: Promotion) -> Promotion | None:
    """Return the newest open request for the same stage and ref made after ``promotion``, if it is still open."""
    if not promotion.is_open:
        return None
    return (
        Promotion.objects.filter(
            state__in=Promotion.OPEN_STATES,
            target_stage_id=promotion.target_stage_id,
            target_ref=promotion.target_ref,
            requested_at__gte=promotion.requested_at,
        )
        .exclude(pk=promotion.pk)
        .exclude(requested_at=promotion.requested_at, pk__lt=promotion.pk)
        .select_related("commit")
        .defer("log", *without_heavy("commit"))
        .order_by("-requested_at", "-id")
        .first()
    )
