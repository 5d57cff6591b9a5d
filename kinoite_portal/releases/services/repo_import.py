"""Reconcile the database with a stage's repo: import commits and refs someone made by hand."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import timezone

from kinoite_portal.core.audit import audit_record
from kinoite_portal.ostree import LockTimeout, Repo
from kinoite_portal.releases.models import Commit, Ref, RefUpdate, Stage
from kinoite_portal.releases.services.commits import commit_import, ref_move
from kinoite_portal.releases.services.stages import stage_repo_lock


@dataclass
class RefReport:
    name: str
    action: str  # "new", "moved", "unchanged" or "missing"
    old: str | None = None
    new: str | None = None


# How far down a ref's history one import walks to record commits the ref held; the rest waits for the next run.
HISTORY_LIMIT = 500


@dataclass
class ImportReport:
    stage: str
    commits_imported: int = 0
    history_recorded: int = 0  # commits recorded as once held by a ref (so they can be promoted)
    refs: list[RefReport] = field(default_factory=list)

    @property
    def moved_outside(self) -> list[RefReport]:
        """Return the refs the database knew that now point elsewhere (moved outside the portal)."""
        return [r for r in self.refs if r.action == "moved"]


def repo_import(*, stage: Stage, actor_label: str = "import_repo", lock_timeout: float = 60.0) -> ImportReport:
    """Import every commit and ref of ``stage``'s repo the database lacks; record moved refs as ``external``.

    Holds the repo lock, so a promotion that has moved a ref but not yet recorded it is never taken for a move made
    outside the portal.
    """
    repo = Repo(stage.repo_dir)
    repo.require()
    report = ImportReport(stage=stage.name)
    with stage_repo_lock(stage, timeout=lock_timeout):
        refs_in_repo = _import_refs(repo=repo, stage=stage, report=report)
    for ref in Ref.objects.filter(stage=stage).exclude(name__in=list(refs_in_repo)).select_related("head"):
        report.refs.append(RefReport(ref.name, "missing", ref.head.checksum if ref.head else None, None))
    audit_record(
        action="repo.import",
        actor_label=actor_label,
        obj=stage,
        message=(
            f"Imported {report.commits_imported} commits from {stage.name} and recorded {report.history_recorded} "
            f"earlier commits along its refs; {len(report.moved_outside)} refs had moved outside the portal"
        ),
        data={"refs": [r.__dict__ for r in report.refs]},
    )
    return report


def _import_refs(*, repo: Repo, stage: Stage, report: ImportReport) -> dict[str, str]:
    refs_in_repo = repo.refs()
    for name, checksum in sorted(refs_in_repo.items()):
        report.history_recorded += _record_history(repo=repo, stage=stage, ref_name=name, report=report)
        if not Commit.objects.filter(checksum=checksum).exists():
            report.commits_imported += 1
        commit = commit_import(repo=repo, checksum=checksum)
        known = Ref.objects.filter(stage=stage, name=name).select_related("head").first()
        if known is None or known.head is None:
            ref_move(stage=stage, ref_name=name, commit=commit, source=RefUpdate.Source.IMPORT, moved_at=timezone.now())
            report.refs.append(RefReport(name, "new", None, checksum))
        elif known.head.checksum != checksum:
            ref_move(stage=stage, ref_name=name, commit=commit, source=RefUpdate.Source.EXTERNAL)
            report.refs.append(RefReport(name, "moved", known.head.checksum, checksum))
        else:
            report.refs.append(RefReport(name, "unchanged", checksum, checksum))
    return refs_in_repo


def _record_history(*, repo: Repo, stage: Stage, ref_name: str, report: ImportReport) -> int:
    """Record each commit below the ref's head that the ref held, down to the first one already recorded.

    A commit the portal never saw as a head (two composes by hand between two imports) is otherwise unknown to the
    ref, so nothing says which treefile it belongs to and it cannot be promoted. Its arrival is recorded as now,
    like the head's first import: the commit's own timestamp is whatever its author chose, and the approval
    policy's days in dev must not start from it.
    """
    ref = Ref.objects.filter(stage=stage, name=ref_name).first()
    held = set(RefUpdate.objects.filter(ref=ref).values_list("commit__checksum", flat=True)) if ref else set()
    history = repo.log(ref_name)[1 : HISTORY_LIMIT + 1]  # newest first, the head itself is recorded by the caller
    missing = []
    below = None
    for info in history:
        if info.checksum in held:
            below = info.checksum  # everything further down was recorded by an earlier import or move
            break
        missing.append(info.checksum)
    if not missing:
        return 0
    ref = ref or Ref.objects.get_or_create(stage=stage, name=ref_name)[0]
    now = timezone.now()
    previous = Commit.objects.filter(checksum=below).first() if below else None
    for checksum in reversed(missing):  # oldest first, so the updates read in the order the ref held them
        if not Commit.objects.filter(checksum=checksum).exists():
            report.commits_imported += 1
        commit = commit_import(repo=repo, checksum=checksum)
        RefUpdate.objects.create(
            ref=ref, commit=commit, previous_commit=previous, moved_at=now, source=RefUpdate.Source.IMPORT
        )
        previous = commit
    return len(missing)


def repo_reconcile_all() -> list[ImportReport]:
    """Import what was made by hand in every stage's repo (hourly, by beat); a busy repo waits for the next run."""
    reports = []
    for stage in Stage.objects.order_by("order"):
        if not Repo(stage.repo_dir).exists():
            continue
        try:
            reports.append(repo_import(stage=stage, actor_label="beat", lock_timeout=5.0))
        except LockTimeout:
            continue  # a compose or promotion writes this repo now; the next run reconciles it
    return reports
