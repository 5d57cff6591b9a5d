"""Enrollment tokens, per-host tokens and their revocation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from kinoite_portal.core import tokens
from kinoite_portal.core.audit import audit_record
from kinoite_portal.fleet.models import Department, EnrollmentToken, Host

ENROLLMENT_TOKEN_KIND = "kpe"  # noqa: S105 (a prefix, not a secret)
HOST_TOKEN_KIND = "kph"  # noqa: S105 (a prefix, not a secret)
DEFAULT_ENROLLMENT_TTL = timedelta(days=7)
MACHINE_ID_RE = re.compile(r"[0-9a-f]{32}")
HOSTNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")


class EnrollmentError(Exception):
    """An enrollment was refused; ``code`` tells the API which HTTP status to answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class CreatedEnrollmentToken:
    token: EnrollmentToken
    raw: str


@dataclass(frozen=True)
class EnrolledHost:
    host: Host
    raw: str
    created: bool


def validate_machine_id(value: Any) -> str:
    """Return a systemd machine id (32 lowercase hex characters), or raise ValueError."""
    if not isinstance(value, str) or not MACHINE_ID_RE.fullmatch(value.strip().lower()):
        raise ValueError("'machine_id' must be the 32 hexadecimal characters of /etc/machine-id")
    return value.strip().lower()


def validate_hostname(value: Any) -> str:
    """Return a host name (letters, digits, dots, dashes, underscores; at most 253 characters), or raise ValueError."""
    if not isinstance(value, str) or not HOSTNAME_RE.fullmatch(value):
        raise ValueError("'hostname' must be 1 to 253 letters, digits, '.', '-' or '_'")
    return value


def enrollment_token_create(
    *,
    department: Department,
    name: str = "",
    expires_at: datetime | None = None,
    max_uses: int = 1,
    created_by: Any = None,
) -> CreatedEnrollmentToken:
    """Create an enrollment token for ``department``; the raw token is returned here once and stored only hashed."""
    if max_uses < 1:
        raise ValueError("an enrollment token must allow at least one use")
    expires = expires_at or timezone.now() + DEFAULT_ENROLLMENT_TTL
    if expires <= timezone.now():
        raise ValueError("an enrollment token must expire in the future")
    new = tokens.token_new(ENROLLMENT_TOKEN_KIND)
    with transaction.atomic():
        token = EnrollmentToken.objects.create(
            department=department,
            name=name,
            prefix=new.prefix,
            token_hash=new.token_hash,
            expires_at=expires,
            max_uses=max_uses,
            created_by=created_by if getattr(created_by, "is_authenticated", False) else None,
        )
        audit_record(
            action="fleet.enrollment_token_create",
            actor=created_by,
            obj=token,
            message=f"Enrollment token {new.prefix}… for {department} "
            f"({max_uses} uses, until {expires:%Y-%m-%d %H:%M})",
        )
    return CreatedEnrollmentToken(token=token, raw=new.raw)


def _refusal(token: EnrollmentToken, now: datetime) -> EnrollmentError:
    if token.revoked_at is not None:
        return EnrollmentError("revoked", "this enrollment token was revoked")
    if token.expires_at <= now:
        return EnrollmentError("expired", "this enrollment token has expired")
    return EnrollmentError("used_up", "this enrollment token has been used up")


def host_enroll(*, raw_token: str, hostname: str, machine_id: str) -> EnrolledHost:
    """Exchange a valid enrollment token for a per-host token; re-enrolling a machine replaces its token.

    A machine that is already enrolled (its ``machine_id`` is known, and host pages show it) is re-enrolled only
    with an enrollment token of its own department: anyone else's token would move it and cut the real desktop
    off. Moving a desktop to another department is an administrator's decision, made in the admin first.
    Raise EnrollmentError (code ``invalid``, ``expired``, ``used_up``, ``revoked`` or ``other_department``);
    nothing is written then, except the audit event of a refused re-enrollment.
    """
    hostname = validate_hostname(hostname)
    machine_id = validate_machine_id(machine_id)
    token = EnrollmentToken.objects.select_related("department").filter(token_hash=tokens.token_hash(raw_token)).first()
    if token is None:
        raise EnrollmentError("invalid", "unknown enrollment token")
    known = Host.objects.select_related("department").filter(machine_id=machine_id).first()
    if known is not None and known.department_id != token.department_id:
        audit_record(
            action="fleet.host_enroll_refused",
            actor_label=f"host {hostname}",
            obj=known,
            message=f"Refused to re-enroll {known.hostname} ({machine_id}) of {known.department} with enrollment "
            f"token {token.prefix}… of {token.department}: an administrator moves a desktop between departments",
        )
        raise EnrollmentError(
            "other_department",
            f"this machine is enrolled in the department {known.department.slug}; an enrollment token of "
            f"{token.department.slug} cannot re-enroll it. An administrator moves it to {token.department.slug} "
            "in the admin first (or use a token of its own department).",
        )
    now = timezone.now()
    new = tokens.token_new(HOST_TOKEN_KIND)
    with transaction.atomic():
        # The row count of this conditional UPDATE decides who gets the last use when hosts enroll at once.
        won = EnrollmentToken.objects.filter(
            pk=token.pk, uses__lt=F("max_uses"), expires_at__gt=now, revoked_at__isnull=True
        ).update(uses=F("uses") + 1)
        if not won:
            raise _refusal(token, now)
        host, created = Host.objects.select_for_update().get_or_create(
            machine_id=machine_id,
            defaults={
                "hostname": hostname,
                "department": token.department,
                "token_hash": new.token_hash,
                "token_prefix": new.prefix,
            },
        )
        if not created:
            if host.department_id != token.department_id:  # moved while we looked
                raise EnrollmentError("other_department", f"this machine is enrolled in {host.department}")
            host.hostname = hostname
            host.token_hash = new.token_hash
            host.token_prefix = new.prefix
            host.token_revoked_at = None
            host.enrolled_at = now
            host.save(
                update_fields=[
                    "hostname",
                    "token_hash",
                    "token_prefix",
                    "token_revoked_at",
                    "enrolled_at",
                ]
            )
        audit_record(
            action="fleet.host_enroll",
            actor_label=f"host {hostname}",
            obj=host,
            message=f"{'Enrolled' if created else 'Re-enrolled'} {hostname} ({machine_id}) in {token.department} "
            f"with enrollment token {token.prefix}…",
        )
    return EnrolledHost(host=host, raw=new.raw, created=created)


def host_department_move(*, host: Host, department: Department, actor: Any = None) -> bool:
    """Move ``host`` to ``department`` (an administrator's decision; the agent's token keeps working); audit it.

    Return False when it is already there.
    """
    with transaction.atomic():
        old = Host.objects.select_for_update().select_related("department").get(pk=host.pk).department
        if old.pk == department.pk:
            return False
        Host.objects.filter(pk=host.pk).update(department=department)
        audit_record(
            action="fleet.host_move",
            actor=actor,
            obj=host,
            message=f"Moved {host.hostname} from {old} to {department}",
            data={"from": old.slug, "to": department.slug},
        )
    host.department = department
    return True


def host_token_revoke(*, host: Host, actor: Any = None) -> bool:
    """Revoke a host's token so its check-ins are refused; return False when it was already revoked."""
    with transaction.atomic():
        changed = Host.objects.filter(pk=host.pk, token_revoked_at__isnull=True).update(token_revoked_at=timezone.now())
        if changed:
            audit_record(
                action="fleet.host_token_revoke", actor=actor, obj=host, message=f"Revoked the token of {host}"
            )
    host.refresh_from_db(fields=["token_revoked_at"])
    return bool(changed)


def enrollment_token_revoke(*, token: EnrollmentToken, actor: Any = None) -> bool:
    """Revoke an enrollment token; return False when it was already revoked."""
    with transaction.atomic():
        changed = EnrollmentToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if changed:
            audit_record(action="fleet.enrollment_token_revoke", actor=actor, obj=token, message=f"Revoked {token}")
    token.refresh_from_db(fields=["revoked_at"])
    return bool(changed)
