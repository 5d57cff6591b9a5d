"""Hourly adoption samples: how many desktops of each department run each image, kept for the rollout charts."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone

from kinoite_portal.fleet.models import AdoptionSample, CheckIn, Host
from kinoite_portal.fleet.selectors import silent_cutoff


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def adoption_backfill(*, before: datetime) -> int:
    """Fill the hours before ``before`` from the check-in history, one grouped query; return the samples made.

    A host counts once per image it reported in an hour, under the ref it follows now (check-ins keep the image,
    not the ref). Runs only while the table is empty, so a first deployment starts with the history it has.
    """
    rows = (
        CheckIn.objects.filter(received_at__lt=before)
        .annotate(hour=TruncHour("received_at"))
        .order_by()
        .values_list("hour", "host__department_id", "host__booted_ref", "booted_checksum")
        .annotate(n=Count("host_id", distinct=True))
    )
    samples = [
        AdoptionSample(taken_at=hour, department_id=department, ref=ref, checksum=checksum, hosts=n)
        for hour, department, ref, checksum, n in rows
    ]
    AdoptionSample.objects.bulk_create(samples, batch_size=1000)
    return len(samples)


def adoption_sample_take(*, now: datetime | None = None) -> int:
    """Record this hour's sample of the active (not silent) hosts; safe to run twice; return the samples written.

    The first run also backfills the earlier hours from the check-in history, and every run drops samples older
    than ``PORTAL_ADOPTION_DAYS``.
    """
    now = now or timezone.now()
    hour = _hour(now)
    active = Host.objects.filter(last_checkin_at__gte=silent_cutoff(now))
    rows = active.order_by().values_list("department_id", "booted_ref", "booted_checksum").annotate(n=Count("id"))
    samples = [
        AdoptionSample(taken_at=hour, department_id=department, ref=ref, checksum=checksum, hosts=n)
        for department, ref, checksum, n in rows
    ]
    with transaction.atomic():
        if not AdoptionSample.objects.exists():
            adoption_backfill(before=hour)
        AdoptionSample.objects.filter(taken_at=hour).delete()
        AdoptionSample.objects.bulk_create(samples, batch_size=1000)
        AdoptionSample.objects.filter(taken_at__lt=hour - timedelta(days=settings.PORTAL_ADOPTION_DAYS)).delete()
    return len(samples)
