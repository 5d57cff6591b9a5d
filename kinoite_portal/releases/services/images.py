"""Images of OCI stages in the database: an image is a Commit (checksum = its manifest digest's hex), a tag a Ref.

The counterpart of ``commits.commit_import`` and ``repo_import`` for registries: approvals, audit, rollbacks and
rollouts then treat an image like any commit.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kinoite_portal.core.audit import audit_record
from kinoite_portal.oci.registry import ImageInfo, ImageNotFound, Skopeo
from kinoite_portal.oci.rpmdb import RPMDB_DIRS, image_packages
from kinoite_portal.ostree import FuncLog, LogSink, OstreeError
from kinoite_portal.releases.models import IMAGE_RPMDB_KEY, Commit, Ref, RefUpdate, Stage
from kinoite_portal.releases.services.commits import ref_move
from kinoite_portal.releases.services.diffs import tree_diffs_recount
from kinoite_portal.releases.services.queueing import task_send_args_on_commit
from kinoite_portal.releases.services.repo_import import ImportReport, RefReport
from kinoite_portal.releases.services.stages import stage_image_repo, stage_repo_lock, stage_skopeo

logger = logging.getLogger(__name__)

# Where the image's layers are kept in Commit.metadata, beside its labels.
LAYERS_KEY = "oci.layers"


def image_commit(
    *, info: ImageInfo, name: str = "", stage: Stage | None = None, read_now: bool = False, log: LogSink | None = None
) -> Commit:
    """Return the database row of the image ``info`` describes, creating it the first time that digest is seen.

    The digest names the image's content, so it is both its checksum and its content checksum: two tags holding
    one digest hold the same bits. With ``stage`` (the stage whose registry holds the image), the image's package
    list is read: here and now with ``read_now`` (only in a worker's job), else by a task queued for a worker, since
    reading fetches the image's layers and no web request may wait for that.
    """
    metadata: dict[str, object] = dict(info.labels)
    metadata[LAYERS_KEY] = list(info.layers)
    commit, created = Commit.objects.get_or_create(
        checksum=info.hex,
        defaults={
            "content_checksum": info.hex,
            "version": info.version[:100],
            # An image without a creation time (possible, though buildah always sets one) sorts as seen now.
            "timestamp": info.created or timezone.now(),
            "subject": (f"{name}@{info.digest}" if name else info.digest)[:500],
            "metadata": metadata,
        },
    )
    if stage is not None and read_now:
        image_packages_read(commit=commit, stage=stage, log=log)
    elif stage is not None and created:
        task_send_args_on_commit("releases.image_packages", [commit.pk, stage.pk])
    return commit


def image_packages_read(*, commit: Commit, stage: Stage, log: LogSink | None = None) -> bool:
    """Read the package list the image ``commit`` carries from ``stage``'s registry and store it (in a worker).

    Stored like an ostree commit's ([[name, epoch, version, release, arch], ...] by name and arch), so package diffs
    treat images and commits alike; an image without an rpm database is marked as carrying none, with no packages.
    Return True when that was stored now. An image read before is left alone; a database that cannot be read (or a
    registry that fails) changes nothing, and the reason goes to the log.
    """
    log = log or FuncLog(logger.info)
    known = Commit.objects.filter(pk=commit.pk).values_list("metadata", flat=True).first()
    if known is None or IMAGE_RPMDB_KEY in (known or {}):
        return False
    repo = stage_image_repo(stage)
    digest = f"sha256:{commit.checksum}"
    # The layers land on the worker's scratch disk, where composes build, not in /tmp: a Kinoite image is gigabytes.
    scratch = Path(settings.PORTAL_COMPOSE_WORKDIR)
    try:
        scratch.mkdir(parents=True, exist_ok=True)
        found = image_packages(stage_skopeo(stage, log=log), repo, digest, log=log, workdir=scratch)
    except (OstreeError, OSError) as exc:
        log.write(f"! the package list of {repo.name}@{digest} could not be read: {exc}")
        logger.warning("the package list of %s@%s could not be read: %s", repo.name, digest, exc)
        return False
    packages = [list(p) for p in found.packages] if found is not None else []
    with transaction.atomic():
        row = Commit.objects.select_for_update().filter(pk=commit.pk).first()
        if row is None or IMAGE_RPMDB_KEY in (row.metadata or {}):
            return False
        metadata = dict(row.metadata or {})
        metadata[IMAGE_RPMDB_KEY] = found.where if found is not None else ""
        Commit.objects.filter(pk=row.pk).update(packages=packages, package_count=len(packages), metadata=metadata)
    commit.packages, commit.package_count, commit.metadata = packages, len(packages), metadata
    if found is None:
        log.write(f"# {repo.name}@{digest} carries no rpm database (none in {' or '.join(RPMDB_DIRS)})")
    else:
        log.write(f"# {len(packages)} packages in {found.where}, read in {found.seconds:.1f} s")
    # Changes counted before the list was known compared an empty list with the other side.
    tree_diffs_recount(tree=commit.content_checksum)
    return True


def image_packages_read_by_id(*, commit_id: int, stage_id: int) -> bool:
    """Read the package list of image ``commit_id`` in stage ``stage_id`` (the queued follow-up of a recording)."""
    commit = Commit.objects.filter(pk=commit_id).first()
    stage = Stage.objects.filter(pk=stage_id, kind=Stage.Kind.OCI).first()
    if commit is None or stage is None:
        return False
    return image_packages_read(commit=commit, stage=stage)


def image_record(
    *,
    stage: Stage,
    tag: str,
    source: str = RefUpdate.Source.IMPORT,
    skopeo: Skopeo | None = None,
    read_now: bool = False,
) -> Commit | None:
    """Record the image ``stage``'s ``tag`` names now, by digest, and the tag as a ref pointing at it.

    Returns None (and records nothing) when the tag does not exist. Recording the same tag twice is a no-op. The
    package list is read before the ref moves with ``read_now`` (a worker's job), else by a queued task.
    """
    repo = stage_image_repo(stage)
    skopeo = skopeo or stage_skopeo(stage)
    try:
        info = skopeo.inspect(repo, tag=tag)
    except ImageNotFound:
        return None
    commit = image_commit(info=info, name=repo.name, stage=stage, read_now=read_now)
    ref_move(stage=stage, ref_name=tag, commit=commit, source=source)
    return commit


def image_import(*, stage: Stage, actor_label: str = "import_repo", lock_timeout: float = 60.0) -> ImportReport:
    """Import every tag of an OCI stage's repository: its image by digest, the tag as a ref (moves as external).

    Holds the stage lock, so a promotion that has moved a tag but not yet recorded it is never taken for a move made
    outside the portal.
    """
    repo = stage_image_repo(stage)
    skopeo = stage_skopeo(stage)
    report = ImportReport(stage=stage.name)
    known = {ref.name: ref for ref in Ref.objects.filter(stage=stage).select_related("head")}
    commits_before = Commit.objects.count()
    with stage_repo_lock(stage, timeout=lock_timeout):
        tags = skopeo.tags(repo)
        for tag in tags:
            before = known.get(tag)
            old = before.head.checksum if before is not None and before.head is not None else None
            source = RefUpdate.Source.IMPORT if before is None else RefUpdate.Source.EXTERNAL
            # An import is a job of its own (a command or a worker), so it reads the package lists itself.
            commit = image_record(stage=stage, tag=tag, source=source, skopeo=skopeo, read_now=True)
            if commit is None:  # deleted between the listing and now
                continue
            if before is None:
                report.refs.append(RefReport(tag, "new", None, commit.checksum))
            elif old != commit.checksum:
                report.refs.append(RefReport(tag, "moved", old, commit.checksum))
            else:
                report.refs.append(RefReport(tag, "unchanged", old, commit.checksum))
    report.commits_imported = Commit.objects.count() - commits_before
    for name, ref in known.items():
        if name not in tags:
            report.refs.append(RefReport(name, "missing", ref.head.checksum if ref.head else None, None))
    audit_record(
        action="repo.import",
        actor_label=actor_label,
        obj=stage,
        message=(
            f"Imported {report.commits_imported} images from {stage.name} ({repo.name}); "
            f"{len(report.moved_outside)} tags had moved outside the portal"
        ),
        data={"tags": [r.__dict__ for r in report.refs]},
    )
    return report
