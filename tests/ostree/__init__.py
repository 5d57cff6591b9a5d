"""Tests for kinoite_portal.ostree (real ostree and gpg binaries, no Django)."""

from __future__ import annotations
