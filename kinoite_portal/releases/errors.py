"""Every error the releases services raise; views, tasks, commands and the API catch them from here."""

from __future__ import annotations


class ComposeError(Exception):
    """A compose cannot be requested or cancelled; the message says why."""


class PromotionError(Exception):
    """A request, decision or run was refused; the message is shown to the user as is."""


class PromotionConflict(PromotionError):
    """Refused because of the current state (already open, already published, votes closed): HTTP 409 in the API."""


class PublishRefused(PromotionError):
    """A run found the stores in a state it must not publish from; nothing was moved (the promotion fails)."""


class PublishIncomplete(Exception):
    """The ref already moved to the published commit, but a later step (sign, delta, summary) failed.

    Failing the promotion then would be untrue ("nothing was moved") and would leave the database behind the repo;
    the run records the ref move and the task retries the remaining steps, which are safe to repeat.
    """

    def __init__(self, published: str, recommit: bool, cause: Exception) -> None:
        super().__init__(f"the ref already points at {published}, but a later step failed: {cause}")
        self.published = published
        self.recommit = recommit


class RetentionError(Exception):
    """A prune cannot run (no repo, no policy); the message says why and nothing was changed."""


class SigningKeyError(Exception):
    """A signing key could not be made, attached or used; the message is shown to the admin as is."""
