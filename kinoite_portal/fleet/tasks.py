"""Beat jobs of the fleet: mark silent hosts, keep check-in history within its bound, sample adoption."""

from __future__ import annotations

from celery import shared_task

from kinoite_portal.fleet.services.adoption import adoption_sample_take
from kinoite_portal.fleet.services.checkins import checkin_history_trim_all, hosts_mark_silent


@shared_task(name="fleet.hosts_mark_silent")
def hosts_mark_silent_task() -> dict[str, int]:
    """Mark hosts silent after PORTAL_SILENT_AFTER_DAYS without a check-in (and clear the mark of those back)."""
    return hosts_mark_silent()


@shared_task(name="fleet.checkin_history_trim")
def checkin_history_trim_task() -> int:
    """Delete check-ins beyond PORTAL_CHECKIN_HISTORY per host."""
    return checkin_history_trim_all()


@shared_task(name="fleet.adoption_sample_take")
def adoption_sample_take_task() -> int:
    """Count this hour's desktops per department, ref and image for the rollout charts."""
    return adoption_sample_take()
