"""Retention: prune old history from a stage's repo without losing a commit anyone still needs.

``ostree prune --refs-only --depth=N`` (DESIGN.md section 5, lab notes section 9) keeps N parents of every ref and
deletes every other commit, so a commit a desktop still boots, has staged or keeps as its rollback deployment, and a
commit an open promotion names (its commit, or the head it replaces), would be deleted once it falls out of the
depth. prune only protects commits that a ref reaches, so each such commit present in the repo gets a ref of its
own, ``portal/retain/<checksum>``, for the length of the prune, and the refs are deleted again before the summary
is written.

Why temporary refs and not a permanent ``portal/retain/`` namespace: a ref in the repo is public. Every ref is
listed in the summary that clients download and served under ``/repo/<stage>/refs/heads/``, so permanent refs
would show internal bookkeeping to every desktop (``ostree remote refs`` would list one per protected commit), and
``manage.py import_repo`` would import them as if someone had made them by hand. A run that dies between creating
and deleting them leaves them behind; the next run deletes every ref under the prefix it finds before it starts,
and a leftover only keeps a commit longer than needed, never deletes one. The whole run holds the portal lock of
the repo (the one composes and promotions take), so no portal job pulls a not-yet-referenced commit while prune
runs; prune itself takes libostree's exclusive lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.module_loading import import_string

from kinoite_portal.core.audit import audit_record
from kinoite_portal.ostree import Repo
from kinoite_portal.ostree.validate import is_checksum
from kinoite_portal.releases.errors import RetentionError
from kinoite_portal.releases.models import Promotion, Stage
from kinoite_portal.releases.services.joblog import JobLog
from kinoite_portal.releases.services.stages import stage_repo, stage_repo_lock, stage_summary_update

RETAIN_PREFIX = "portal/retain"
LOCK_TIMEOUT = 600.0


@dataclass
class PruneReport:
    """What one prune of one stage did (or, in a dry run, would do)."""

    stage: str
    depth: int | None
    dry_run: bool
    skipped: str = ""
    protected: list[str] = field(default_factory=list)
    total_objects: int | None = None
    deleted_objects: int = 0
    fsck_ok: bool | None = None
    fsck_output: str = ""
    commands: list[str] = field(default_factory=list)


def protected_checksums() -> set[str]:
    """Return every commit a desktop boots, has staged or keeps for rollback, or an open promotion names.

    What desktops run is the fleet's to know: ``PORTAL_BOOTED_CHECKSUMS_PROVIDER`` names the function that says.
    """
    booted_checksums: Callable[[], Iterable[str]] = import_string(settings.PORTAL_BOOTED_CHECKSUMS_PROVIDER)
    wanted: set[str] = set(booted_checksums())
    for promotion_row in Promotion.objects.filter(state__in=Promotion.OPEN_STATES).values_list(
        "commit__checksum", "previous_head__checksum"
    ):
        wanted.update(promotion_row)
    return {c.lower() for c in wanted if c and is_checksum(c)}


def _drop_retain_refs(repo: Repo) -> None:
    for ref in sorted(repo.refs(RETAIN_PREFIX)):
        repo.delete_ref(ref)


def repo_prune(
    *,
    stage: Stage,
    dry_run: bool = False,
    progress: Callable[[str], object] | None = None,
    lock_timeout: float = LOCK_TIMEOUT,
    actor: object = None,
) -> PruneReport:
    """Prune ``stage``'s repo to its retention depth, keeping protected commits; then summary and fsck.

    Skipped (nothing run) when the stage has no ``retention_depth``. A dry run (``prune --no-prune``) deletes
    nothing and writes no summary. Raises LockTimeout when another job holds the repo for ``lock_timeout`` s.
    """
    depth = stage.retention_depth
    report = PruneReport(stage=stage.name, depth=depth, dry_run=dry_run)
    say = progress or (lambda text: None)
    if depth is None:
        report.skipped = f"the {stage.name} stage has no retention depth: it keeps all history"
        say(f"{stage.name}: skipped, {report.skipped}")
        return report
    if stage.kind == Stage.Kind.OCI:
        # Deleting a registry's manifests is the registry's garbage collection; a rollback needs old digests kept.
        report.skipped = f"the {stage.name} stage is an OCI image repository: the portal prunes ostree repos only"
        say(f"{stage.name}: skipped, {report.skipped}")
        return report
    log = JobLog(progress=progress)
    repo = stage_repo(stage, log=log)
    if not repo.exists():
        raise RetentionError(f"The {stage.name} stage has no ostree repo at {stage.repo_dir}; nothing was pruned.")
    say(f"{stage.name}: waiting for the repo lock")
    with stage_repo_lock(stage, timeout=lock_timeout):
        say(f"{stage.name}: pruning to depth {depth}" + (" (dry run: nothing is deleted)" if dry_run else ""))
        _drop_retain_refs(repo)  # left over by a run that died
        report.protected = sorted(c for c in protected_checksums() if repo.has_commit(c))
        say(f"{stage.name}: {len(report.protected)} commit(s) kept for desktops and open promotions")
        try:
            for checksum in report.protected:
                repo.set_ref(f"{RETAIN_PREFIX}/{checksum}", checksum)
            result = repo.prune(depth=depth, dry_run=dry_run)
        finally:
            _drop_retain_refs(repo)
        report.total_objects = result.total_objects
        report.deleted_objects = result.deleted_objects
        verb = "would delete" if dry_run else "deleted"
        say(f"{stage.name}: {verb} {result.deleted_objects} of {result.total_objects} objects")
        if not dry_run:
            stage_summary_update(repo=repo, stage=stage)
            fsck = repo.fsck()
            report.fsck_ok, report.fsck_output = fsck.ok, fsck.output
            say(f"{stage.name}: fsck {'clean' if fsck.ok else 'FAILED'}")
    report.commands = log.commands
    audit_record(
        action="repo.prune_dry_run" if dry_run else "repo.prune",
        actor=actor,
        actor_label="" if actor is not None else "retention",
        obj=stage,
        message=f"{stage.name}: prune to depth {depth} {verb} {report.deleted_objects} objects"
        + (f", kept {len(report.protected)} protected commit(s)" if report.protected else "")
        + ("" if report.fsck_ok in (None, True) else "; fsck FAILED"),
        commands=report.commands,
        data={
            "depth": depth,
            "dry_run": dry_run,
            "total_objects": report.total_objects,
            "deleted_objects": report.deleted_objects,
            "protected": report.protected,
            "fsck_ok": report.fsck_ok,
        },
    )
    return report
