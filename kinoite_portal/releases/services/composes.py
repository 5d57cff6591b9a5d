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
from kinoite_portal.releases.compose_backends import (
    IMAGE_BACKENDS,
    BuildahBackend,
    ComposeCancelled,
    ComposeFailed,
    ComposeJob,
    ComposeOutcome,
    get_backend,
)
from kinoite_portal.releases.errors import ComposeError
from kinoite_portal.releases.models import Commit, Compose, RefUpdate, Stage, Treefile
from kinoite_portal.releases.services.commits import commit_import, ref_move
from kinoite_portal.releases.services.images import image_commit
from kinoite_portal.releases.services.joblog import FLUSH_EVERY_S, JobLog
from kinoite_portal.releases.services.queueing import task_send_on_commit
from kinoite_portal.releases.services.stages import (
    stage_image_repo,
    stage_repo,
    stage_repo_lock,
    stage_skopeo,
    stage_summary_update,
)

LOCK_POLL_S = 1.0
SCHEDULE_WINDOW = timedelta(minutes=10)


def compose_stage(treefile: Treefile | None = None) -> Stage:
    """Return the stage composes of ``treefile`` write to: the first stage (dev) of the kind it builds into."""
    stages = Stage.objects.order_by("order")
    if treefile is None:
        stage = stages.first()
        if stage is None:
            raise ComposeError("no stages are configured: add a dev stage (order 0) in the admin first")
        return stage
    kind = treefile.stage_kind
    stage = stages.filter(kind=kind).first()
    if stage is None:
        what = "Containerfile builds push" if kind == Stage.Kind.OCI else "treefile composes commit"
        raise ComposeError(
            f"no {Stage.Kind(kind).label} stage is configured, and {what} to one: add it in the admin first"
            f" ({treefile.name} is a {treefile.get_kind_display()})"
        )
    return stage


def compose_stage_check(*, treefile: Treefile, stage: Stage) -> None:
    """Raise ComposeError unless ``treefile`` can be built into ``stage`` (a Containerfile into OCI, else ostree)."""
    if stage.kind == treefile.stage_kind:
        return
    if treefile.kind == Treefile.Kind.CONTAINERFILE:
        raise ComposeError(
            f"{treefile.name} is a Containerfile: it builds an image, which goes to an OCI stage, and {stage.name} is "
            f"an {stage.get_kind_display()}; nothing was queued"
        )
    raise ComposeError(
        f"{treefile.name} is an rpm-ostree treefile: it composes an ostree commit, and {stage.name} is an "
        f"{stage.get_kind_display()} (images are built from a Containerfile); nothing was queued"
    )


def compose_request(
    *,
    treefile: Treefile,
    user: Any = None,
    trigger: str = "manual",
    backend: str | None = None,
    enqueue: bool = True,
    stage: Stage | None = None,
) -> Compose:
    """Queue a compose of ``treefile``'s latest revision into the dev stage; the worker runs it after commit.

    A Containerfile is built by the ``buildah`` backend into the first OCI stage, a treefile by the configured compose
    backend into the first ostree stage; ``stage`` names another one, refused when its kind does not fit.
    """
    revision = treefile.revisions.order_by("-number").first()
    if revision is None:
        raise ComposeError(f"treefile {treefile.name} has no saved revision yet")
    if not treefile.enabled and trigger == "schedule":
        raise ComposeError(f"treefile {treefile.name} is disabled")
    if stage is None:
        stage = compose_stage(treefile)
    compose_stage_check(treefile=treefile, stage=stage)
    if treefile.kind == Treefile.Kind.CONTAINERFILE:
        if backend not in (None, *IMAGE_BACKENDS):
            raise ComposeError(f"backend {backend!r} composes treefiles; a Containerfile is built by buildah")
        backend = backend or BuildahBackend.name
    elif backend in IMAGE_BACKENDS:
        raise ComposeError(f"backend {backend!r} builds Containerfiles; {treefile.name} is an rpm-ostree treefile")
    compose = Compose.objects.create(
        treefile=treefile,
        revision=revision,
        stage=stage,
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
    is_image = stage.kind == Stage.Kind.OCI
    # The dev ref is the treefile's "ref", or the Containerfile's "tag" (an OCI stage's refs are its tags).
    dev_ref = compose.dev_ref
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
            # The stage's kind may have changed since the request: never push an image into an ostree stage.
            compose_stage_check(treefile=compose.treefile, stage=stage)
            if is_image != (compose.backend in IMAGE_BACKENDS):
                raise ComposeError(f"backend {compose.backend} cannot write to the {stage.get_kind_display()}")
            backend = get_backend(compose.backend)
            if workdir.exists():
                shutil.rmtree(workdir)
            workdir.mkdir(parents=True)
            job = ComposeJob(
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
            if is_image:
                job.image_reference = stage_image_repo(stage).tagged(dev_ref)
                job.tls_verify = stage.registry_tls_verify
                auth = Path(settings.PORTAL_REGISTRY_AUTH_FILE)
                job.authfile = auth if auth.is_file() else None
                job.existing_versions = _tag_versions(stage, dev_ref)
            outcome = backend.compose(job)
            # An image build always pushes a new image (its base image or packages may have moved even when the
            # Containerfile did not); only an ostree compose can find its inputs unchanged.
            if outcome.checksum is None:
                log.write("Unchanged: the input hash matches the current dev commit; no new commit")
                return _finish(compose, log=log, state=Compose.State.UNCHANGED, input_hash=outcome.input_hash)
            if is_image:
                commit = _image_record(stage=stage, tag=dev_ref, outcome=outcome, compose=compose, log=log)
                log.write(f"Succeeded: {commit.version} sha256:{commit.checksum} ({stage.name}:{dev_ref})")
            else:
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
                reason=f"Cancelled while running; the dev {'tag' if is_image else 'ref'} did not move",
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


def _tag_versions(stage: Stage, tag: str) -> list[str]:
    """Return the versions ``tag`` of ``stage`` has pointed at (the next image version counts on from them)."""
    return list(
        RefUpdate.objects.filter(ref__stage=stage, ref__name=tag)
        .exclude(commit__version="")
        .values_list("commit__version", flat=True)
    )


def _image_record(*, stage: Stage, tag: str, outcome: ComposeOutcome, compose: Compose, log: JobLog) -> Commit:
    """Record the pushed image, as the registry holds it (by digest), and move the dev tag's ref to it."""
    if outcome.image is None:
        raise ComposeFailed("the build reported no pushed image")
    # By digest, not by tag: what is recorded is what this build pushed, even if the tag moved meanwhile.
    info = stage_skopeo(stage, log=log).inspect(stage_image_repo(stage), digest=outcome.image.digest)
    # The package list is read here, before the tag's ref moves, so the diffs that move counts compare it.
    commit = image_commit(info=info, name=stage_image_repo(stage).name, stage=stage, read_now=True, log=log)
    if not commit.input_hash:
        Commit.objects.filter(pk=commit.pk, input_hash="").update(input_hash=outcome.input_hash)
    ref_move(stage=stage, ref_name=tag, commit=commit, source="compose", compose=compose)
    return commit


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
