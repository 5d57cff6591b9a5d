"""Signing keys for stages: generated or imported into a GnuPG home on the repo host; the secret never leaves it.

Attaching or replacing a stage's key re-signs what the stage publishes right now (each ref's head, the static deltas
to those heads, and the summary) in a worker task on the repo queue, so a client with ``gpg-verify=true`` and
``gpg-verify-summary=true`` can pull at once instead of after the next promotion.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from kinoite_portal.core.audit import audit_record
from kinoite_portal.ostree import OstreeError, gpg
from kinoite_portal.releases.errors import PromotionError, SigningKeyError
from kinoite_portal.releases.models import SigningKey, Stage
from kinoite_portal.releases.services.queueing import task_send_on_commit
from kinoite_portal.releases.services.stages import stage_repo_lock
from kinoite_portal.releases.stage_kinds import kind_of

# gpg-agent listens on sockets inside the GnuPG home; a unix socket path longer than this cannot be bound.
SOCKET_PATH_LIMIT = 107


def _gpg_failure(what: str, home: Path, exc: Exception) -> SigningKeyError:
    socket = home / "S.gpg-agent.browser"
    if len(str(socket)) > SOCKET_PATH_LIMIT:
        return SigningKeyError(
            f"{what}: gpg-agent cannot listen in {home} (its socket path would be {len(str(socket))} characters, "
            f"more than {SOCKET_PATH_LIMIT}). Set PORTAL_GNUPG_ROOT to a shorter folder that survives reboots, "
            "such as /var/lib/kinoite-portal/gnupg."
        )
    return SigningKeyError(f"{what}: {exc}")


def _new_home(stage: Stage) -> Path:
    # Short names: gpg-agent's socket path must stay under about 100 characters.
    return Path(settings.PORTAL_GNUPG_ROOT) / f"{stage.name[:20]}-{secrets.token_hex(4)}"


def _attach(
    *, stage: Stage, home: Path, fingerprint: str, name: str, actor: Any, how: str, queue_resign: bool
) -> SigningKey:
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
        if queue_resign:
            stage_resign_queue(stage=stage)
    return key


def signing_key_generate(
    *, stage: Stage, actor: Any = None, name: str = "", email: str = "", queue_resign: bool = True
) -> SigningKey:
    """Generate a signing key in a new GnuPG home, make it the stage's key and queue the re-signing of the stage.

    ``queue_resign=False`` is for callers that call ``stage_resign`` themselves (the demo, before any worker runs).
    """
    name = name.strip() or f"Kinoite Portal {stage.name} signing"
    email = email.strip() or f"{stage.name}-signing@kinoite-portal.invalid"
    if SigningKey.objects.filter(name=name).exists():
        name = f"{name} {secrets.token_hex(2)}"
    home = _new_home(stage)
    try:
        fingerprint = gpg.generate_key(home, name, email)
    except (OstreeError, ValueError) as exc:
        gpg.kill_agent(home)
        shutil.rmtree(home, ignore_errors=True)
        raise _gpg_failure("Could not generate a key", home, exc) from exc
    return _attach(
        stage=stage,
        home=home,
        fingerprint=fingerprint,
        name=name,
        actor=actor,
        how="generate",
        queue_resign=queue_resign,
    )


def signing_key_import(
    *, stage: Stage, armored: str, actor: Any = None, name: str = "", queue_resign: bool = True
) -> SigningKey:
    """Import an armored secret key, check that it really signs, make it the stage's key and queue the re-signing."""
    home = _new_home(stage)
    try:
        fingerprint = gpg.import_secret_key(home, armored)
    except (OstreeError, ValueError) as exc:
        gpg.kill_agent(home)
        shutil.rmtree(home, ignore_errors=True)
        raise _gpg_failure("Could not import the key", home, exc) from exc
    name = name.strip() or f"{stage.name} key {fingerprint[-16:]}"
    return _attach(
        stage=stage,
        home=home,
        fingerprint=fingerprint,
        name=name,
        actor=actor,
        how="import",
        queue_resign=queue_resign,
    )


def stage_signing_key_set(*, stage: Stage, key: SigningKey | None, actor: Any = None) -> Stage:
    """Make an already stored key the stage's key (or none), and queue the re-signing when there is one."""
    if key is not None and not gpg.can_sign(key.gnupg_home, key.fingerprint):
        raise SigningKeyError(
            f"Key {key.fingerprint} cannot sign from {key.gnupg_home}. Nothing was changed: {stage.name} keeps its "
            "current key."
        )
    with transaction.atomic():
        Stage.objects.filter(pk=stage.pk).update(signing_key=key)
        stage.signing_key = key
        audit_record(
            action="signing_key.set",
            actor=actor,
            obj=stage,
            message=f"stage {stage.name} signs with {key.fingerprint if key else 'no key'}",
            data={"stage": stage.name, "fingerprint": key.fingerprint if key else ""},
        )
        if key is not None:
            stage_resign_queue(stage=stage)
    return stage


def stage_resign_queue(*, stage: Stage) -> None:
    """Queue the re-signing of ``stage`` once the surrounding transaction commits (the repo queue's worker runs it)."""
    task_send_on_commit("releases.repo_resign", stage)


@dataclass(frozen=True)
class ResignReport:
    stage: str
    fingerprint: str
    signed: list[str]  # heads that got a new signature (the others carried this key's already)
    deltas: list[str]  # static deltas regenerated because they embed their target's signatures


def stage_resign(*, stage: Stage, lock_timeout: float = 60.0) -> ResignReport:
    """Sign every ref head of ``stage``'s repo with its current key, refresh the deltas to them, sign the summary.

    Safe to run twice: a head the key signed already is left alone. Holds the repo lock, so no promotion or prune
    writes the repo meanwhile.
    """
    stage = Stage.objects.select_related("signing_key").get(pk=stage.pk)
    key = stage.signing_key
    if key is None:
        raise SigningKeyError(f"Stage {stage.name} has no signing key; nothing was signed.")
    with stage_repo_lock(stage, timeout=lock_timeout):
        try:
            heads, signed, deltas = kind_of(stage).resign(stage=stage, key=key)
        except PromotionError as exc:
            raise SigningKeyError(f"{exc} Nothing was signed.") from None
    audit_record(
        action="signing_key.resign",
        actor_label="worker",
        obj=stage,
        message=f"signed {len(signed)} of {len(heads)} heads and the summary of {stage.name} with {key.fingerprint}",
        data={"stage": stage.name, "fingerprint": key.fingerprint, "signed": signed, "deltas": deltas},
    )
    return ResignReport(stage=stage.name, fingerprint=key.fingerprint, signed=signed, deltas=deltas)
