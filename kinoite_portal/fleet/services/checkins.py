"""Recording a host's check-in: its latest state, and a bounded history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Subquery
from django.utils import timezone

from kinoite_portal.fleet.models import CheckIn, Host
from kinoite_portal.fleet.signals import host_checked_in
from kinoite_portal.fleet.status_parser import BootcStatus, BootEntry, Deployment, HostStatus

GREENBOOT_STATES = {"green": Host.Health.GREEN, "red": Host.Health.RED, "fallback": Host.Health.FALLBACK}


def checkin_history_trim(*, host_id: int, keep: int | None = None) -> int:
    """Delete all but the newest ``keep`` check-ins of a host; return how many were deleted."""
    keep = settings.PORTAL_CHECKIN_HISTORY if keep is None else keep
    # One DELETE with the newest ids as a subquery, no round trip to fetch them first.
    newest = CheckIn.objects.filter(host_id=host_id).order_by("-received_at", "-id").values("id")[:keep]
    deleted, _ = CheckIn.objects.filter(host_id=host_id).exclude(id__in=Subquery(newest)).delete()
    return deleted


def _deployment_fields(prefix: str, deployment: Deployment | None) -> dict[str, str]:
    return {
        f"{prefix}_checksum": deployment.image_key if deployment else "",
        f"{prefix}_version": deployment.image_version if deployment else "",
    }


def _ostree_fields(status: HostStatus) -> dict[str, Any]:
    """Return the host's image fields from ``rpm-ostree status``: the commit each deployment runs, and its origin."""
    booted = status.booted
    # A host rebased to a registry image (rpm-ostree rebase ostree-image-signed:docker://...) follows its tag like a
    # bootc host, when rpm-ostree reports the image's digest; without the digest it cannot be compared and stays
    # a container host that follows no stage.
    image = booted.image if booted.image_digest and booted.image and booted.image.source else None
    fields: dict[str, Any] = {
        "booted_checksum": booted.image_key,
        "booted_version": booted.image_version,
        "booted_origin": booted.container_image_reference or booted.origin,
        "booted_remote": image.source if image else booted.remote,
        "booted_ref": image.tag if image else booted.ref,
        "booted_layered": booted.layered,
        "booted_is_container": booted.is_container,
        "image_signature": booted.image.signature if booted.image else "",
        "deployments": [d.summary() for d in status.deployments],
    }
    for prefix, deployment in (("staged", status.staged), ("rollback", status.rollback)):
        fields.update(_deployment_fields(prefix, deployment))
    return fields


def _bootc_fields(bootc: BootcStatus, booted: BootEntry) -> dict[str, Any]:
    """Return the host's image fields from ``bootc status``: image digests, and REGISTRY/REPOSITORY:TAG followed.

    The digest's hex is the image's checksum (an OCI stage's commits are recorded by it), so the rollout pages and
    ring gates compare bootc hosts with the same checksum columns as ostree hosts.
    """
    fields: dict[str, Any] = {
        "booted_checksum": booted.digest,
        "booted_version": booted.version,
        "booted_origin": booted.image.origin,
        "booted_remote": booted.image.source,
        "booted_ref": booted.image.tag if booted.image.source else "",
        "booted_layered": False,
        "booted_is_container": True,
        "image_signature": bootc.signature,
        "deployments": bootc.summaries(),
    }
    for prefix, entry in (("staged", bootc.staged), ("rollback", bootc.rollback)):
        fields[f"{prefix}_checksum"] = entry.digest if entry else ""
        fields[f"{prefix}_version"] = entry.version if entry else ""
    return fields


def checkin_record(
    *,
    host: Host,
    hostname: str,
    status: HostStatus | None,
    report: dict[str, Any],
    bootc: BootcStatus | None = None,
    greenboot: str | None = None,
    booted_default: bool | None = None,
    remote_addr: str | None = None,
) -> CheckIn:
    """Store a host's latest state from its parsed status and append the raw report to its history.

    A host that bootc deployed (``bootc.booted`` set) is recorded from bootc's report, whatever rpm-ostree says:
    its checksums are image digests. Otherwise ``status`` (rpm-ostree's) is required.

    The history is trimmed to PORTAL_CHECKIN_HISTORY by the hourly beat task (``checkin_history_trim_all``), not
    here: a host checks in about hourly, so between two trims it is over the bound by one report at most, and every
    check-in is spared a DELETE.
    """
    now = timezone.now()
    if bootc is not None and bootc.booted is not None:
        image_fields = _bootc_fields(bootc, bootc.booted)
        default = status.booted_is_default if status is not None else True
    elif status is not None:
        image_fields = _ostree_fields(status)
        default = status.booted_is_default
    else:
        raise ValueError("a check-in needs rpm-ostree's status or a bootc status with a booted image")
    fields: dict[str, Any] = {
        "hostname": hostname,
        "last_checkin_at": now,
        "is_silent": False,
        **image_fields,
        # No greenboot in this report means the agent could not read it: an older verdict is not kept.
        "health": GREENBOOT_STATES.get(greenboot or "", Host.Health.UNKNOWN),
        # The agent's word when it sent one, else what the order of the deployments says.
        "booted_default": default if booted_default is None else booted_default,
    }
    with transaction.atomic():
        # One UPDATE of the columns the report sets, without loading the row first.
        Host.objects.filter(pk=host.pk).update(**fields)
        checkin = CheckIn.objects.create(
            host=host,
            remote_addr=remote_addr,
            booted_checksum=fields["booted_checksum"],
            booted_version=fields["booted_version"],
            report=report,
        )
        for name, value in fields.items():
            setattr(host, name, value)
        host_checked_in.send(sender=Host, host=host)
    return checkin


def hosts_mark_silent() -> dict[str, int]:
    """Set ``is_silent`` on hosts without a check-in for PORTAL_SILENT_AFTER_DAYS days, and clear it on the others."""
    cutoff = timezone.now() - timedelta(days=settings.PORTAL_SILENT_AFTER_DAYS)
    stale = Q(last_checkin_at__lt=cutoff) | Q(last_checkin_at__isnull=True)
    marked = Host.objects.filter(stale, is_silent=False).update(is_silent=True)
    cleared = Host.objects.filter(~stale, is_silent=True).update(is_silent=False)
    return {"marked": marked, "cleared": cleared}


def checkin_history_trim_all() -> int:
    """Trim every host's check-in history to PORTAL_CHECKIN_HISTORY; only hosts over the bound are touched."""
    over = (
        CheckIn.objects.order_by()
        .values("host_id")
        .annotate(n=Count("id"))
        .filter(n__gt=settings.PORTAL_CHECKIN_HISTORY)
        .values_list("host_id", flat=True)
    )
    return sum(checkin_history_trim(host_id=host_id) for host_id in list(over))
