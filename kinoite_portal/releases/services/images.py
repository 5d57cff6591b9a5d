"""Images of OCI stages in the database: an image is a Commit (checksum = its manifest digest's hex), a tag a Ref.

The counterpart of ``commits.commit_import`` and ``repo_import`` for registries: approvals, audit, rollbacks and
rollouts then treat an image like any commit.
"""

from __future__ import annotations

from django.utils import timezone

from kinoite_portal.core.audit import audit_record
from kinoite_portal.oci.registry import ImageInfo, ImageNotFound, Skopeo
from kinoite_portal.releases.models import Commit, Ref, RefUpdate, Stage
from kinoite_portal.releases.services.commits import ref_move
from kinoite_portal.releases.services.repo_import import ImportReport, RefReport
from kinoite_portal.releases.services.stages import stage_image_repo, stage_repo_lock, stage_skopeo

# Where the image's layers are kept in Commit.metadata, beside its labels.
LAYERS_KEY = "oci.layers"


def image_commit(*, info: ImageInfo, name: str = "") -> Commit:
    """Return the database row of the image ``info`` describes, creating it the first time that digest is seen.

    The digest names the image's content, so it is both its checksum and its content checksum: two tags holding
    one digest hold the same bits.
    """
    existing = Commit.objects.filter(checksum=info.hex).first()
    if existing is not None:
        return existing
    metadata: dict[str, object] = dict(info.labels)
    metadata[LAYERS_KEY] = list(info.layers)
    commit, _ = Commit.objects.get_or_create(
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
    return commit


def image_record(
    *, stage: Stage, tag: str, source: str = RefUpdate.Source.IMPORT, skopeo: Skopeo | None = None
) -> Commit | None:
    """Record the image ``stage``'s ``tag`` names now, by digest, and the tag as a ref pointing at it.

    Returns None (and records nothing) when the tag does not exist. Recording the same tag twice is a no-op.
    """
    repo = stage_image_repo(stage)
    skopeo = skopeo or stage_skopeo(stage)
    try:
        info = skopeo.inspect(repo, tag=tag)
    except ImageNotFound:
        return None
    commit = image_commit(info=info, name=repo.name)
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
            commit = image_record(stage=stage, tag=tag, source=source, skopeo=skopeo)
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
