"""Celery tasks of the releases app, a module per kind of job; importing them here registers them."""

from __future__ import annotations

from kinoite_portal.releases.tasks import compose as compose
from kinoite_portal.releases.tasks import deltas as deltas
from kinoite_portal.releases.tasks import diffs as diffs
from kinoite_portal.releases.tasks import images as images
from kinoite_portal.releases.tasks import promotion as promotion
from kinoite_portal.releases.tasks import retention as retention
from kinoite_portal.releases.tasks import signing as signing
