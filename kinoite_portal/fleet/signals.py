"""Signals fleet sends for apps above it (they receive them; fleet never imports them)."""

from __future__ import annotations

from django.dispatch import Signal

# Sent with ``host`` after a check-in was stored (inside its transaction; receivers defer work with on_commit).
host_checked_in = Signal()
