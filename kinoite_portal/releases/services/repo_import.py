"""Reconcile the database with a stage's repo: import commits and refs someone made by hand."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import timezone

from kinoite_portal.core.audit import audit_record
from kinoite_portal.ostree import Repo
from kinoite_portal.releases.models import Commit, Ref, RefUpdate, Stage
from kinoite_portal.releases.services.commits import commit_import, ref_move


@dataclass
class RefReport:
    name: str
    action: str  # "new", "moved", "unchanged" or "missing"
    old: str | None = None
    new: str | None = None


@dataclass
class ImportReport:
    stage: str
    commits_imported: int = 0
    refs: list[RefReport] = field(default_factory=list)

    @property
    def moved_outside(self) -> list[RefReport]:
        """Return the refs the database knew that now point elsewhere (moved outside the portal)."""
        return [r for r in self.refs if r.action == "moved"]


def repo_import(*, stage: Stage, actor_label: str = "import_repo") -> ImportReport:
    """Import every commit and ref of ``stage``'s repo the database lacks; record moved refs as ``external``."""
    repo = Repo(stage.repo_dir)
    repo.require()
    report = ImportReport(stage=stage.name)
    refs_in_repo = repo.refs()
    for name, checksum in sorted(refs_in_repo.items()):
        for info in reversed(repo.log(name)):
            if not Commit.objects.filter(checksum=info.checksum).exists():
                commit_import(repo=repo, checksum=info.checksum)
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
    for ref in Ref.objects.filter(stage=stage).exclude(name__in=list(refs_in_repo)).select_related("head"):
        report.refs.append(RefReport(ref.name, "missing", ref.head.checksum if ref.head else None, None))
    audit_record(
        action="repo.import",
        actor_label=actor_label,
        obj=stage,
        message=(
            f"Imported {report.commits_imported} commits from {stage.name}; "
            f"{len(report.moved_outside)} refs had moved outside the portal"
        ),
        data={"refs": [r.__dict__ for r in report.refs]},
    )
    return report
