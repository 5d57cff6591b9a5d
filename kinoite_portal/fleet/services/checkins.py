"""Recording a host's check-in: its latest state, and a bounded history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Subquery
from django.utils import timezone

from kinoite_portal.fleet.models import CheckIn, Host
from kinoite_portal.fleet.status_parser import Deployment, HostStatus

GREENBOOT_STATES = {"green": Host.Health.GREEN, "red": Host.Health.RED}


def checkin_history_trim(*, host_id: int, keep: int | None = None) -> int:
    """Delete all but the newest ``keep`` check-ins of a host; return how many were deleted."""
    keep = settings.PORTAL_CHECKIN_HISTORY if keep is None else keep
    # One DELETE with the newest ids as a subquery (no round trip to fetch them first): this runs on every check-in.
    newest = CheckIn.objects.filter(host_id=host_id).order_by("-received_at", "-id").values("id")[:keep]
    deleted, _ = CheckIn.objects.filter(host_id=host_id).exclude(id__in=Subquery(newest)).delete()
    return deleted


def _deployment_fields(prefix: str, deployment: Deployment | None) -> dict[str, str]:
    return {
        f"{prefix}_checksum": deployment.image_checksum if deployment else "",
        f"{prefix}_version": deployment.image_version if deployment else "",
    }


def checkin_record(
    *,
    host: Host,
    hostname: str,
    status: HostStatus,
    report: dict[str, Any],
    greenboot: str | None = None,
    remote_addr: str | None = None,
) -> CheckIn:
    """Store a host's latest state from its parsed status and append the raw report to its history."""
    booted = status.booted
    now = timezone.now()
    with transaction.atomic():
        host.hostname = hostname
        host.last_checkin_at = now
        host.is_silent = False
        host.booted_checksum = booted.image_checksum
        host.booted_version = booted.image_version
        host.booted_origin = booted.container_image_reference or booted.origin
        host.booted_remote = booted.remote
        host.booted_ref = booted.ref
        host.booted_layered = booted.layered
        host.booted_is_container = booted.is_container
        for prefix, deployment in (("staged", status.staged), ("rollback", status.rollback)):
            for name, value in _deployment_fields(prefix, deployment).items():
                setattr(host, name, value)
        host.deployments = [d.summary() for d in status.deployments]
        host.status = status.raw
        # No greenboot in this report means the agent could not read it: an older verdict is not kept.
        host.health = GREENBOOT_STATES.get(greenboot or "", Host.Health.UNKNOWN)
        host.save()
        checkin = CheckIn.objects.create(
            host=host,
            remote_addr=remote_addr,
            booted_checksum=booted.image_checksum,
            booted_version=booted.image_version,
            report=report,
        )
        checkin_history_trim(host_id=host.pk)
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
