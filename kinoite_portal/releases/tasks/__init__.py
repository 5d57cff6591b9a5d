"""Celery tasks of the releases app, a module per kind of job; importing them here registers them."""

from __future__ import annotations
