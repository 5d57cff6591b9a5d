"""Creating stages and the repos they own; the one place that says how a portal job opens, locks and publishes one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import transaction

from kinoite_portal.ostree import LockTimeout, LogSink, Repo, portal_lock
from kinoite_portal.releases.errors import PromotionError
from kinoite_portal.releases.models import Stage


@transaction.atomic
def stage_ensure(*, name: str, order: int, repo_path: str, public_url: str = "", **policy: int) -> Stage:
    """Return the stage called ``name``, creating it and initialising its archive repo when missing."""
    stage, _ = Stage.objects.get_or_create(
        name=name, defaults={"order": order, "repo_path": repo_path, "public_url": public_url, **policy}
    )
    Repo.init(stage.repo_dir, mode="archive")
    return stage


def stage_repo(stage: Stage, *, log: LogSink | None = None) -> Repo:
    """Return the stage's repo with the portal's command timeout."""
    return Repo(stage.repo_dir, log=log, timeout=settings.PORTAL_COMMAND_TIMEOUT)


def stage_repo_required(stage: Stage) -> Repo:
    """Return the stage's repo; raise PromotionError (nothing done) when it does not exist on disk."""
    repo = stage_repo(stage)
    if not repo.exists():
        raise PromotionError(
            f"The {stage.name} stage has no ostree repo at {stage.repo_dir}; create it (ostree init --mode=archive) "
            "or fix the stage's repo path in the admin. Nothing was moved."
        )
    return repo


def repo_lock_name(stage: Stage) -> str:
    """Return the portal lock name of ``stage``'s repo: every portal job that writes that repo takes it."""
    return f"repo-{stage.name}"


@contextmanager
def stage_repo_lock(stage: Stage, *, timeout: float) -> Iterator[None]:
    """Hold the portal lock of ``stage``'s repo (composes, promotions and prunes of one repo never overlap)."""
    with portal_lock(settings.PORTAL_LOCK_DIR, repo_lock_name(stage), timeout=timeout):
        yield


def stage_repo_busy(stage: Stage) -> bool:
    """Return True while a portal job holds ``stage``'s repo lock (the kernel drops it when that job dies)."""
    try:
        with stage_repo_lock(stage, timeout=0):
            return False
    except LockTimeout:
        return True


def stage_summary_update(*, repo: Repo, stage: Stage) -> None:
    """Rewrite the summary of ``stage``'s repo, signed with the stage's key when it has one."""
    key = stage.signing_key
    if key is None:
        repo.update_summary()
    else:
        repo.update_summary(gpg_key_id=key.fingerprint, gpg_homedir=key.gnupg_home)
