"""Requesting, running and cancelling composes of treefiles into the dev repo."""

from __future__ import annotations

import contextlib
import shutil
import signal
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from croniter import croniter
from django.conf import settings
from django.utils import timezone

from kinoite_portal.core.audit import audit_record
from kinoite_portal.ostree import CommandCancelled, CommandError, CommandTimeout, LockTimeout
from kinoite_portal.releases.compose_backends import ComposeCancelled, ComposeFailed, ComposeJob, get_backend
from kinoite_portal.releases.errors import ComposeError
from kinoite_portal.releases.models import Compose, Stage, Treefile
from kinoite_portal.releases.services.commits import commit_import, ref_move
from kinoite_portal.releases.services.joblog import FLUSH_EVERY_S, JobLog
from kinoite_portal.releases.services.queueing import task_send_on_commit
from kinoite_portal.releases.services.stages import stage_repo, stage_repo_lock, stage_summary_update

LOCK_POLL_S = 1.0
SCHEDULE_WINDOW = timedelta(minutes=10)


def compose_stage() -> Stage:
    """Return the first stage (dev), which composes write to."""
    stage = Stage.objects.order_by("order").first()
    if stage is None:
        raise ComposeError("no stages are configured: add a dev stage (order 0) in the admin first")
    return stage


def compose_request(
    *,
    treefile: Treefile,
    user: Any = None,
    trigger: str = "manual",
    backend: str | None = None,
    enqueue: bool = True,
) -> Compose:
    """Queue a compose of ``treefile``'s latest revision into the dev repo; the worker runs it after commit."""
    revision = treefile.revisions.order_by("-number").first()
    if revision is None:
        raise ComposeError(f"treefile {treefile.name} has no saved revision yet")
    if not treefile.enabled and trigger == "schedule":
        raise ComposeError(f"treefile {treefile.name} is disabled")
    compose = Compose.objects.create(
        treefile=treefile,
        revision=revision,
        stage=compose_stage(),
        backend=backend or settings.PORTAL_COMPOSE_BACKEND,
        requested_by=user if getattr(user, "is_authenticated", False) else None,
        trigger=trigger,
    )
    audit_record(
        action="compose.request",
        actor=user,
        obj=compose,
        message=f"Requested compose #{compose.pk} of {treefile.name} r{revision.number} ({trigger})",
    )
    if enqueue:
        task_send_on_commit("releases.compose_run", compose)
    return compose


def compose_cancel(*, compose: Compose, user: Any = None) -> Compose:
    """Cancel a queued compose at once, or ask a running one to stop (its process group is killed)."""
    who = getattr(user, "username", "") or "system"
    if compose.is_finished:
        raise ComposeError(f"compose #{compose.pk} has already ended ({compose.state})")
    now = timezone.now()
    ended = Compose.objects.filter(pk=compose.pk, state=Compose.State.QUEUED).update(
        state=Compose.State.CANCELLED, cancel_requested=True, finished_at=now, failure_reason=f"Cancelled by {who}"
    )
    if not ended:
        Compose.objects.filter(pk=compose.pk).update(cancel_requested=True)
    audit_record(action="compose.cancel", actor=user, obj=compose, message=f"Cancel of compose #{compose.pk} by {who}")
    compose.refresh_from_db()
    return compose


def _finish(compose: Compose, state: str, *, reason: str = "", log: JobLog | None = None, **fields: Any) -> Compose:
    if log is not None:
        # The page stops polling once the state is final: the last lines must be stored first.
        log.flush()
    compose.state = state
    compose.finished_at = timezone.now()
    compose.failure_reason = reason.strip().splitlines()[0][:500] if reason.strip() else ""
    for key, value in fields.items():
        setattr(compose, key, value)
    compose.save(update_fields=["state", "finished_at", "failure_reason", *fields])
    audit_record(
        action=f"compose.{state}",
        actor_label="worker",
        obj=compose,
        message=f"Compose #{compose.pk} of {compose.treefile.name} {state}" + (f": {reason}" if reason else ""),
    )
    compose.refresh_from_db(fields=["log"])
    return compose


def _failure_reason(exc: BaseException) -> str:
    if isinstance(exc, CommandTimeout):
        return f"{exc.command_name} timed out after {exc.timeout:g} s and was killed"
    if isinstance(exc, CommandError) and exc.returncode < 0:
        try:
            name = signal.Signals(-exc.returncode).name
        except ValueError:
            name = f"signal {-exc.returncode}"
        return f"{exc.command_name} was killed by {name}"
    return str(exc) or type(exc).__name__


@contextlib.contextmanager
def _repo_job_lock(compose: Compose, deadline: float) -> Any:
    """Wait for the dev repo's portal lock; yield True once held, False if the compose was cancelled meanwhile."""
    import time

    waited = False
    while True:
        try:
            with stage_repo_lock(compose.stage, timeout=LOCK_POLL_S):
                yield True
                return
        except LockTimeout:
            pass
        if not waited:
            waited = True
            JobLog(Compose, compose.pk).write(f"Waiting for another job on the {compose.stage.name} repo to finish")
        compose.refresh_from_db(fields=["state", "cancel_requested"])
        if compose.is_finished or compose.cancel_requested or time.monotonic() > deadline:
            yield False
            return


def compose_run(*, compose_id: int, timeout: float | None = None) -> Compose:
    """Run one compose under the dev repo's lock; safe to call twice (a finished compose is left alone)."""
    import time

    compose = Compose.objects.select_related("treefile", "revision", "stage", "stage__signing_key").get(pk=compose_id)
    if compose.is_finished:
        return compose
    limit = float(timeout if timeout is not None else settings.PORTAL_COMPOSE_TIMEOUT)
    with _repo_job_lock(compose, time.monotonic() + limit) as held:
        compose.refresh_from_db()
        if compose.is_finished:
            return compose
        if not held:
            if compose.cancel_requested:
                return _finish(compose, Compose.State.CANCELLED, reason="Cancelled while waiting for the repo lock")
            return _finish(compose, Compose.State.FAILED, reason=f"Waited {limit:g} s for the repo lock; gave up")
        if compose.cancel_requested:
            return _finish(compose, Compose.State.CANCELLED, reason="Cancelled before it started")
        started = Compose.objects.filter(pk=compose.pk, state=Compose.State.QUEUED).update(
            state=Compose.State.RUNNING, started_at=timezone.now()
        )
        compose.refresh_from_db()
        if not started:
            if compose.state == Compose.State.RUNNING:
                # We hold the lock its run would hold: that run is gone (worker killed or restarted).
                return _finish(
                    compose,
                    Compose.State.FAILED,
                    reason="Interrupted: the worker running this compose stopped before it finished",
                )
            return compose
        return _run_locked(compose, limit)


def _run_locked(compose: Compose, limit: float) -> Compose:
    stage = compose.stage
    revision = compose.revision
    content = dict(revision.content)
    dev_ref = str(content.get("ref", ""))
    workdir = Path(settings.PORTAL_COMPOSE_WORKDIR) / f"compose-{compose.pk}"
    last_check = [0.0]
    cancelled = [False]

    def should_cancel() -> bool:
        import time

        now = time.monotonic()
        if now - last_check[0] >= 0.4:
            last_check[0] = now
            cancelled[0] = Compose.objects.filter(pk=compose.pk, cancel_requested=True).exists()
        return cancelled[0]

    with JobLog(Compose, compose.pk, interval=FLUSH_EVERY_S) as log:
        log.write(
            f"Compose #{compose.pk}: {compose.treefile.name} r{revision.number} -> {stage.name}:{dev_ref} "
            f"(backend {compose.backend}, timeout {limit:g} s)"
        )
        try:
            backend = get_backend(compose.backend)
            if workdir.exists():
                shutil.rmtree(workdir)
            workdir.mkdir(parents=True)
            outcome = backend.compose(
                ComposeJob(
                    treefile=content,
                    dev_ref=dev_ref,
                    published_ref=revision.published_ref,
                    repo_path=stage.repo_dir,
                    workdir=workdir,
                    revision_number=revision.number,
                    timeout=limit,
                    log=log,
                    should_cancel=should_cancel,
                )
            )
            if outcome.checksum is None:
                log.write("Unchanged: the input hash matches the current dev commit; no new commit")
                return _finish(compose, log=log, state=Compose.State.UNCHANGED, input_hash=outcome.input_hash)
            repo = stage_repo(stage, log=log)
            commit = commit_import(repo=repo, checksum=outcome.checksum)
            ref_move(stage=stage, ref_name=dev_ref, commit=commit, source="compose", compose=compose)
            stage_summary_update(repo=repo, stage=stage)
            log.write(f"Succeeded: {commit.version} {commit.checksum} ({commit.package_count} packages)")
            return _finish(
                compose, log=log, state=Compose.State.SUCCEEDED, input_hash=outcome.input_hash, commit=commit
            )
        except CommandCancelled:
            log.write("Cancelled: the compose process was stopped")
            return _finish(
                compose,
                log=log,
                state=Compose.State.CANCELLED,
                reason="Cancelled while running; the dev ref did not move",
            )
        except ComposeCancelled as exc:
            return _finish(compose, log=log, state=Compose.State.CANCELLED, reason=str(exc))
        except ComposeFailed as exc:
            log.write(f"Failed: {exc}")
            return _finish(compose, log=log, state=Compose.State.FAILED, reason=str(exc))
        except Exception as exc:
            reason = _failure_reason(exc)
            log.write(f"Failed: {reason}")
            return _finish(compose, log=log, state=Compose.State.FAILED, reason=reason)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def compose_schedule_due(*, now: datetime | None = None) -> list[Compose]:
    """Queue a compose for every enabled treefile whose cron schedule fell due within the last few minutes."""
    now = now or timezone.now()
    started = []
    for treefile in Treefile.objects.filter(enabled=True).exclude(schedule=""):
        if not croniter.is_valid(treefile.schedule):
            continue
        slot = croniter(treefile.schedule, now).get_prev(datetime)
        if now - slot > SCHEDULE_WINDOW:
            continue
        already = treefile.composes.filter(trigger="schedule", created_at__gte=slot).exists()
        busy = treefile.composes.filter(state__in=[Compose.State.QUEUED, Compose.State.RUNNING]).exists()
        if already or busy:
            continue
        started.append(compose_request(treefile=treefile, trigger="schedule"))
    return started
