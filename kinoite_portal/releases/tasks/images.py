"""Reading the package list an image carries, on the ``default`` queue (its worker reaches the registries)."""

from __future__ import annotations

from celery import shared_task

from kinoite_portal.releases.services.images import image_packages_read_by_id


@shared_task(name="releases.image_packages", acks_late=True, ignore_result=True)
def image_packages_task(commit_id: int, stage_id: int) -> bool:
    """Read and store the packages of image ``commit_id`` from stage ``stage_id``'s registry (a no-op once read)."""
    return image_packages_read_by_id(commit_id=int(commit_id), stage_id=int(stage_id))
