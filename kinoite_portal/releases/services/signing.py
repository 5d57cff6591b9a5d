"""Signing keys for stages: generated or imported into a GnuPG home on the repo host; the secret never leaves it."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from kinoite_portal.core.audit import audit_record
from kinoite_portal.ostree import gpg
from kinoite_portal.releases.models import SigningKey, Stage


class SigningKeyError(Exception):
    """A key could not be made or used; the message is shown to the admin as is."""


def _new_home(stage: Stage) -> Path:
    # Short names: gpg-agent's socket path must stay under about 100 characters.
    return Path(settings.PORTAL_GNUPG_ROOT) / f"{stage.name[:20]}-{secrets.token_hex(4)}"


def _attach(*, stage: Stage, home: Path, fingerprint: str, name: str, actor: Any, how: str) -> SigningKey:
    if not gpg.can_sign(home, fingerprint):
        gpg.kill_agent(home)
        shutil.rmtree(home, ignore_errors=True)
        raise SigningKeyError(
            f"Key {fingerprint} cannot sign without a prompt (a passphrase, an expired key, or no signing "
            f"capability). Nothing was changed: {stage.name} keeps its current key."
        )
    public = gpg.export_public_key(home, fingerprint)
    with transaction.atomic():
        if SigningKey.objects.filter(fingerprint=fingerprint).exists():
            raise SigningKeyError(f"Key {fingerprint} is already stored; pick it for the stage in the admin.")
        key = SigningKey.objects.create(name=name, fingerprint=fingerprint, public_key=public, gnupg_home=str(home))
        Stage.objects.filter(pk=stage.pk).update(signing_key=key)
        stage.signing_key = key
        audit_record(
            action=f"signing_key.{how}",
            actor=actor,
            obj=key,
            message=f"{how} {fingerprint} for stage {stage.name}",
            data={"stage": stage.name, "fingerprint": fingerprint},
        )
    return key


def signing_key_generate(*, stage: Stage, actor: Any = None, name: str = "", email: str = "") -> SigningKey:
    """Generate a signing key in a new GnuPG home and make it the stage's key."""
    name = name.strip() or f"Kinoite Portal {stage.name} signing"
    email = email.strip() or f"{stage.name}-signing@kinoite-portal.invalid"
    if SigningKey.objects.filter(name=name).exists():
        name = f"{name} {secrets.token_hex(2)}"
    home = _new_home(stage)
    try:
        fingerprint = gpg.generate_key(home, name, email)
    except (gpg.GpgError, ValueError) as exc:
        shutil.rmtree(home, ignore_errors=True)
        raise SigningKeyError(f"Could not generate a key: {exc}") from exc
    return _attach(stage=stage, home=home, fingerprint=fingerprint, name=name, actor=actor, how="generate")


def signing_key_import(*, stage: Stage, armored: str, actor: Any = None, name: str = "") -> SigningKey:
    """Import an armored secret key, check that it really signs, and make it the stage's key."""
    home = _new_home(stage)
    try:
        fingerprint = gpg.import_secret_key(home, armored)
    except (gpg.GpgError, ValueError) as exc:
        gpg.kill_agent(home)
        shutil.rmtree(home, ignore_errors=True)
        raise SigningKeyError(f"Could not import the key: {exc}") from exc
    name = name.strip() or f"{stage.name} key {fingerprint[-16:]}"
    return _attach(stage=stage, home=home, fingerprint=fingerprint, name=name, actor=actor, how="import")
