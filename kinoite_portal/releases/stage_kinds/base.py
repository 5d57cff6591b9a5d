"""What differs between kinds of stage, as one small interface the approval and promotion code calls.

Approval policy, votes, soak, audit, locks and rollouts are one and the same for every kind; a kind says how a
candidate is found and identified in a stage, and how a promotion or rollback is carried out there. One module per
kind sits beside this one (``ostree.py``, ``oci.py``); ``stage_kinds.kind_of`` picks one by ``Stage.kind``. A new
kind is a new module and one line in ``stage_kinds/__init__.py``: nothing in the approval code changes.
"""

from __future__ import annotations

from typing import Protocol

from kinoite_portal.ostree import LogSink, gpg
from kinoite_portal.releases.errors import PublishRefused
from kinoite_portal.releases.models import Commit, Promotion, SigningKey, Stage

# How long a run waits for a store lock held by another job before the task retries.
LOCK_TIMEOUT = 60.0


class StageKind(Protocol):
    """The per-kind steps of requests and runs. Every method raises PromotionError with a message for people."""

    def require(self, stage: Stage) -> None:
        """Raise PromotionError (nothing done) when ``stage``'s store is missing or misconfigured."""

    def candidate(self, *, stage: Stage, checksum: str) -> Commit:
        """Return the recorded commit (or image) ``checksum`` of ``stage``; PromotionError when the stage lacks it."""

    def holds(self, *, stage: Stage, checksum: str) -> bool:
        """Return True if ``stage``'s store still holds ``checksum`` (a rollback needs it)."""

    def request_check(self, *, stage: Stage, ref: str, commit: Commit) -> None:
        """Refuse a promotion of ``commit`` to ``ref`` of ``stage`` that the store cannot take (published, older)."""

    def publish(self, *, promotion: Promotion, log: LogSink) -> tuple[str, bool]:
        """Carry out the run under the stage lock; return (published checksum, re-committed?).

        Safe to repeat after a crash at any point. Raises PublishRefused or OstreeError when nothing moved, and
        PublishIncomplete when the ref moved but a later step failed.
        """

    def record_published(self, *, promotion: Promotion, checksum: str, recommit: bool) -> Commit:
        """Record in the database that the promotion's ref now points at ``checksum``; a no-op when recorded."""

    def after_publish(self, *, promotion: Promotion) -> None:
        """Send the follow-up jobs of a published promotion (inside the transaction that records it)."""

    def ring_move_refusal(self, *, promotion: Promotion, commit: Commit, refs: list[str]) -> str | None:
        """Return why ``commit``, which ``promotion`` published, must not go to the ring ``refs``; None when it may."""

    def move_ring_refs(self, *, stage: Stage, refs: list[str], checksum: str, log: LogSink) -> dict[str, str | None]:
        """Point each of ``refs`` (in order) at ``checksum`` under the held stage lock; return ref -> previous head.

        Called by rollouts for a ring move. Safe to repeat: a ref already there is left alone. Raises OstreeError
        (or RegistryError) when a step fails; a ref moved before the failure stays moved, and a re-run finishes.
        """

    def after_ring_move(self, *, stage: Stage, ref: str, sources: list[str], checksum: str) -> None:
        """Send the follow-up jobs of a recorded ring move (inside its transaction); ``sources`` are clients' heads."""

    def resign(self, *, stage: Stage, key: SigningKey) -> tuple[list[str], list[str], list[str]]:
        """Sign what ``stage`` publishes now with ``key`` (under the stage lock); return (heads, signed, redone).

        Safe to run twice: what the key signed already is left alone. ``redone`` names derived files made again
        because they embed signatures (ostree's static deltas).
        """


def signing_key_check(stage: Stage, log: LogSink) -> tuple[str, str] | None:
    """Return (fingerprint, GnuPG home) of ``stage``'s key, None for an unsigned stage; refuse a key that can't sign."""
    key = stage.signing_key
    if key is None:
        return None
    if not gpg.can_sign(key.gnupg_home, key.fingerprint):
        raise PublishRefused(
            f"The {stage.name} signing key {key.fingerprint[-16:]} cannot sign (missing secret key, passphrase, "
            f"expired or not a signing key in {key.gnupg_home}); nothing was moved."
        )
    log.write(f"# signing with {key.name} ({key.fingerprint})")
    return key.fingerprint, key.gnupg_home
