"""Promotions: requesting one, cancelling it, and carrying it out on the repo host (DESIGN.md section 5).

The run follows ostree-lab-notes section 11: by checksum, never by ref name; the commit must exist in the source
repo, be newer than the target head and be bound to the target ref (else the same tree is re-committed under it);
the portal lock for the target repo is held for the whole run and libostree's shared repo lock across
"pull-local + ref creation"; the commit is signed once, the static delta made after signing, the summary written
signed. Every step is safe to repeat: a worker killed at any point leaves the ref on the old or the new commit,
and the next attempt finishes the job.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from kinoite_portal.core.audit import audit_record
from kinoite_portal.ostree import (
    CommandError,
    LockTimeout,
    OstreeError,
    Repo,
    next_version,
    parse_version,
    repo_lock,
    validate_checksum,
)
from kinoite_portal.ostree.errors import InvalidChecksum
from kinoite_portal.ostree.model import CommitInfo
from kinoite_portal.ostree.validate import is_checksum
from kinoite_portal.releases import notifications, rules, selectors
from kinoite_portal.releases.errors import PromotionConflict, PromotionError, PublishIncomplete
from kinoite_portal.releases.models import Commit, Promotion, Ref, RefUpdate, Stage, Treefile
from kinoite_portal.releases.publishing import promotion_published, publish_plan
from kinoite_portal.releases.services.approvals import policy_refresh
from kinoite_portal.releases.services.commits import commit_import, ref_move
from kinoite_portal.releases.services.diffs import tree_diffs_for_request
from kinoite_portal.releases.services.joblog import JobLog
from kinoite_portal.releases.services.queueing import task_send_args_on_commit
from kinoite_portal.releases.services.stages import (
    stage_repo,
    stage_repo_lock,
    stage_repo_required,
    stage_summary_update,
)

LOCK_TIMEOUT = 60.0


class _RunRepo(Repo):
    """A stage repo for one promotion run that reads each commit (by checksum) at most once.

    A commit never changes under its checksum, and the run reads commits only before it signs anything, so the
    first answer stays right for the rest of the run. A new run (a retry) starts with nothing remembered. A read with
    the package list answers a later read without it too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._commits: dict[tuple[str, bool], CommitInfo] = {}

    def read_commit(self, checksum_or_ref: str, *, packages: bool = True) -> CommitInfo:
        if not is_checksum(checksum_or_ref):
            return super().read_commit(checksum_or_ref, packages=packages)
        key = checksum_or_ref.lower()
        found = self._commits.get((key, True)) or self._commits.get((key, packages))
        if found is None:
            found = self._commits[(key, packages)] = super().read_commit(key, packages=packages)
        return found


def _stages(target_stage: Stage | None) -> tuple[Stage, Stage]:
    if target_stage is None:
        source = Stage.objects.order_by("order").first()
        target = source.next_stage() if source is not None else None
    else:
        target = target_stage
        source = target.previous_stage()
    if source is None or target is None:
        raise PromotionError("Promotion needs two stages (dev and prod); add them in the admin.")
    return source, target


def promotion_request(
    *,
    user: Any,
    checksum: str,
    target_stage: Stage | None = None,
    treefile: Treefile | None = None,
    comment: str = "",
    expedited: bool = False,
    expedite_reason: str = "",
    via: str = "web",
) -> Promotion:
    """Ask to publish one commit (by checksum) in the next stage; it then waits for approval."""
    if not user.has_perm("releases.request_promotion"):
        raise PromotionError("You may not request promotions (release engineers only).")
    try:
        checksum = validate_checksum(checksum.strip())
    except (InvalidChecksum, AttributeError):
        raise PromotionError(f"{checksum!r} is not a full 64-hex commit checksum; promotions go by checksum.") from None
    if expedited and not expedite_reason.strip():
        raise PromotionError("An expedited request needs a written reason.")
    source_stage, target_stage = _stages(target_stage)
    source_repo = stage_repo_required(source_stage)
    target_repo = stage_repo_required(target_stage)
    if not source_repo.has_commit(checksum):
        raise PromotionError(f"Commit {checksum} is not in the {source_stage.name} repo; nothing was requested.")
    commit = commit_import(repo=source_repo, checksum=checksum)
    if treefile is None:
        owners = selectors.treefiles_owning(selectors.commit_ref_names(commit, stage=source_stage))
        if len(owners) > 1:
            names = ", ".join(t.name for t in owners)
            raise PromotionError(f"This commit is on the refs of several treefiles ({names}); say which one it is.")
        treefile = owners[0] if owners else None
    if treefile is None:
        raise PromotionError("No treefile composes to a ref holding this commit; say which treefile it belongs to.")
    target_ref = treefile.published_ref
    # On a stage with rings the run moves the first ring's ref; what that ref holds is what is newest there.
    move_ref = publish_plan(stage=target_stage, ref=target_ref, kind=Promotion.Kind.PROMOTE).move_ref
    head = target_repo.resolve(move_ref) or target_repo.resolve(target_ref)
    if head is not None:
        head_info = target_repo.read_commit(head, packages=False)
        if head == checksum or head_info.content_checksum == commit.content_checksum:
            raise PromotionConflict(f"{target_stage.name} already publishes this tree as {move_ref} ({head[:10]}).")
        if commit.timestamp < head_info.timestamp:
            raise PromotionError(
                f"Commit {checksum[:10]} ({commit.version}, {commit.timestamp:%Y-%m-%d %H:%M}) is older than "
                f"{target_stage.name}'s head {head[:10]} ({head_info.version}, {head_info.timestamp:%Y-%m-%d %H:%M}): "
                "clients would refuse it as a downgrade. To go back, request a rollback instead."
            )
    with transaction.atomic():
        open_one = (
            Promotion.objects.select_for_update()
            .filter(commit=commit, target_stage=target_stage, state__in=Promotion.OPEN_STATES)
            .first()
        )
        if open_one is not None:
            raise PromotionConflict(f"Promotion #{open_one.pk} of this commit is already open ({open_one.state}).")
        promotion = Promotion.objects.create(
            kind=Promotion.Kind.PROMOTE,
            treefile=treefile,
            commit=commit,
            source_stage=source_stage,
            target_stage=target_stage,
            target_ref=target_ref,
            requested_by=user,
            comment=comment.strip(),
            expedited=expedited,
            expedite_reason=expedite_reason.strip() if expedited else "",
        )
        policy_refresh(promotion)
        tree_diffs_for_request(promotion)
        audit_record(
            action="promotion.request",
            actor=user,
            obj=promotion,
            message=f"Requested {commit.version or checksum[:10]} -> {target_stage.name}:{target_ref}"
            + (f" (expedited: {promotion.expedite_reason})" if expedited else "")
            + (f": {promotion.comment}" if promotion.comment else ""),
            data={"checksum": checksum, "via": via, "expedited": expedited},
        )
        transaction.on_commit(lambda: notifications.notify_approvers(promotion))
    return promotion


def promotion_cancel(*, user: Any, promotion: Promotion, comment: str = "") -> Promotion:
    """Withdraw a request that has not started running (the requester or a release engineer)."""
    refusal = rules.cancel_refusal(user=user, promotion=promotion)
    if refusal is not None:
        raise refusal
    with transaction.atomic():
        won = Promotion.objects.filter(pk=promotion.pk, state__in=rules.CANCELLABLE_STATES).update(
            state=Promotion.State.CANCELLED, finished_at=timezone.now()
        )
        promotion.refresh_from_db()
        if not won:  # it started running (or ended) since the page was read
            refusal = rules.cancel_refusal(user=user, promotion=promotion)
            raise refusal or PromotionConflict(f"Promotion #{promotion.pk} can no longer be cancelled.")
        audit_record(action="promotion.cancel", actor=user, obj=promotion, message=comment.strip())
    return promotion


# ---------------------------------------------------------------------------------------------- the worker side


class _Refused(Exception):
    pass


def _signing(stage: Stage, log: JobLog) -> tuple[str, str] | None:
    key = stage.signing_key
    if key is None:
        return None
    from kinoite_portal.ostree import gpg

    if not gpg.can_sign(key.gnupg_home, key.fingerprint):
        raise _Refused(
            f"The {stage.name} signing key {key.fingerprint[-16:]} cannot sign (missing secret key, passphrase, "
            f"expired or not a signing key in {key.gnupg_home}); nothing was moved."
        )
    log.write(f"# signing with {key.name} ({key.fingerprint})")
    return key.fingerprint, key.gnupg_home


def _already_published(promotion: Promotion, target: Repo, current: str | None, log: JobLog) -> str | None:
    """Return the published checksum if an earlier attempt of this run already moved the ref."""
    previous = promotion.previous_head.checksum if promotion.previous_head else None
    if current is None or current == previous:
        return None
    info = target.read_commit(current, packages=False)
    if current == promotion.commit.checksum or info.content_checksum == promotion.commit.content_checksum:
        log.write(f"# {promotion.publish_ref} already points at {current}: an earlier attempt published it")
        return current
    raise _Refused(
        f"{promotion.publish_ref} moved to {current[:10]} while this promotion ran (expected {str(previous)[:10]}); "
        "something else writes this repo. Nothing more was changed."
    )


def _rollback_version(old: Commit) -> str:
    versioned = Commit.objects.exclude(version="")
    try:
        releasever = parse_version(old.version).releasever
    except ValueError:
        return f"{old.version or 'rollback'}.r{versioned.count()}"
    today = timezone.now().date()
    # Only today's versions of this release can collide; the rest of the history need not be read.
    same_day = versioned.filter(version__startswith=f"{releasever}.{today:%Y%m%d}.")
    return next_version(releasever, today, same_day.values_list("version", flat=True))


def _publish_promote(promotion: Promotion, source: Repo, target: Repo, log: JobLog) -> tuple[str, bool]:
    checksum = promotion.commit.checksum
    ref = promotion.publish_ref
    bound = [*promotion.bound_refs]
    current = target.resolve(ref)
    done = _already_published(promotion, target, current, log)
    if done is not None:
        return done, done != checksum
    # `ostree show`, not rev-parse: rev-parse echoes back any 64-hex value without checking it exists.
    if not source.has_commit(checksum):
        raise _Refused(f"Commit {checksum} is not in the {promotion.source_stage.name} repo; nothing was moved.")
    # The run needs the binding, dates and content checksum, never the package list (the request imported it).
    info = source.read_commit(checksum, packages=False)
    log.write(f"# {checksum}: version {info.version}, content {info.content_checksum}, binding {info.ref_binding}")
    if current is not None and current != checksum:
        head = target.read_commit(current, packages=False)
        if info.timestamp < head.timestamp:
            raise _Refused(
                f"Commit {checksum[:10]} ({info.timestamp:%Y-%m-%d %H:%M:%S}) is older than {ref}'s head "
                f"{current[:10]} ({head.timestamp:%Y-%m-%d %H:%M:%S}); pull-local would move the ref backwards "
                "and clients would refuse it. Nothing was moved."
            )
    if info.ref_binding is None or all(name in info.ref_binding for name in (ref, *bound)):
        # Holds libostree's shared lock from the pull to the ref, so a prune cannot delete the commit in between.
        target.pull_and_set_ref(source, checksum, ref, lock_timeout=LOCK_TIMEOUT)
        return checksum, False
    wanted = ", ".join([ref, *bound])
    log.write(f"# {checksum[:10]} is bound to {list(info.ref_binding)}, not {wanted}: re-committing its tree")
    with repo_lock(target.path, timeout=LOCK_TIMEOUT):
        # The same shared lock, from the pull to the re-commit that names the tree under the ref.
        target.pull_local(source, checksum)
        published = target.commit(
            branch=ref,
            tree_ref=checksum,
            subject=info.subject or f"Kinoite {info.version}",
            body=info.body,
            metadata=target.metadata_keys(checksum),
            # Bound once to every ref that will ever point at it, so each later gets this very checksum.
            bind_refs=bound,
        )
    new_info = target.read_commit(published, packages=False)
    if new_info.content_checksum != info.content_checksum:
        raise _Refused(f"re-commit {published} has another tree than {checksum}; refusing to publish it")
    log.write(f"# re-committed as {published} (same content checksum {info.content_checksum})")
    return published, True


def _publish_rollback(promotion: Promotion, target: Repo, log: JobLog) -> tuple[str, bool]:
    old = promotion.commit
    ref = promotion.publish_ref
    if not target.has_commit(old.checksum):
        raise _Refused(f"Commit {old.checksum} is no longer in the {promotion.target_stage.name} repo (pruned?).")
    current = target.resolve(ref)
    done = _already_published(promotion, target, current, log)
    if done is not None:
        return done, False
    old_info = target.read_commit(old.checksum, packages=False)
    if current is not None:
        # Clients refuse a "chronologically older" commit; commit dates have one-second resolution, so make sure
        # the forward commit is dated strictly after the head it replaces.
        head_ts = target.read_commit(current, packages=False).timestamp.timestamp()
        while time.time() < head_ts + 1:
            time.sleep(0.05)
    version = _rollback_version(old)
    metadata: dict[str, object] = dict(target.metadata_keys(old.checksum))
    metadata["version"] = version
    log.write(f"# rollback: forward commit of the tree of {old.checksum} ({old_info.version}) as version {version}")
    with repo_lock(target.path, timeout=LOCK_TIMEOUT):
        published = target.commit(
            branch=ref,
            tree_ref=old.checksum,
            subject=f"Rollback to {old_info.version or old.checksum[:10]}",
            body=f"Re-publishes the tree of {old.checksum} as a forward update (promotion #{promotion.pk}).",
            metadata=metadata,
            bind_refs=promotion.bound_refs,
        )
    return published, False


def _finish(promotion: Promotion, state: str, **fields: Any) -> bool:
    return bool(
        Promotion.objects.filter(pk=promotion.pk, state=Promotion.State.RUNNING).update(
            state=state, finished_at=timezone.now(), **fields
        )
    )


def _run_queryset() -> QuerySet[Promotion]:
    """Return promotions with what a run reads, for the first read and every refresh (a plain refresh_from_db
    forgets the related rows, and reading them again one by one brings their package lists along)."""
    commits = ("commit", "previous_head", "published_commit")
    # The run reads the commits' checksums, dates and bindings; their package lists stay in the database.
    return Promotion.objects.select_related(
        *commits, "source_stage", "target_stage", "target_stage__signing_key"
    ).defer(*(name for relation in commits for name in selectors.without_heavy(relation)))


def promotion_run(*, promotion_id: int) -> Promotion:
    """Carry out a queued promotion or rollback; return early when it is already past that state."""
    promotion = _run_queryset().get(pk=promotion_id)
    if promotion.state not in (Promotion.State.QUEUED, Promotion.State.RUNNING):
        return promotion
    target_stage = promotion.target_stage
    with stage_repo_lock(target_stage, timeout=LOCK_TIMEOUT):
        # Claimed under the lock: "running" with the lock free therefore means the worker died (see requeue below).
        # A resumed run keeps the time the first attempt started.
        claimed = Promotion.objects.filter(
            pk=promotion.pk, state__in=[Promotion.State.QUEUED, Promotion.State.RUNNING]
        ).update(state=Promotion.State.RUNNING, started_at=Coalesce(F("started_at"), Value(timezone.now())))
        promotion.refresh_from_db(from_queryset=_run_queryset())
        if not claimed:
            return promotion
        log = JobLog(Promotion, promotion.pk)
        if promotion.log:
            log.write(f"# {timezone.now():%Y-%m-%d %H:%M:%S} resuming: an earlier attempt stopped before finishing")
        else:
            log.write(
                f"# {timezone.now():%Y-%m-%d %H:%M:%S} {promotion.kind} #{promotion.pk} of "
                f"{promotion.commit.checksum} to {target_stage.name}:{promotion.publish_ref}"
            )
        try:
            published_checksum, recommit = _run_steps(promotion, log)
        except PublishIncomplete as exc:
            log.write(f"! {exc}; the remaining steps will be retried")
            _record_published(promotion, exc.published, recommit=exc.recommit)
            audit_record(
                action="promotion.incomplete",
                actor_label="worker",
                obj=promotion,
                message=str(exc),
                commands=log.commands,
            )
            raise
        except LockTimeout:
            log.write("! the repo is busy (lock held by another job); the task will retry")
            raise
        except (_Refused, OstreeError, PromotionError) as exc:
            reason = str(exc) if not isinstance(exc, CommandError) else f"{exc} (see the log)"
            log.write(f"! failed: {reason}")
            _finish(promotion, Promotion.State.FAILED, failure_reason=reason[:500])
            promotion.refresh_from_db(from_queryset=_run_queryset())
            audit_record(
                action="promotion.failed", actor_label="worker", obj=promotion, message=reason, commands=log.commands
            )
            notifications.notify_requester(promotion, "failed", reason)
            return promotion
        with transaction.atomic():
            published = _record_published(promotion, published_checksum, recommit=recommit)
            log.write(f"# done: {target_stage.name}:{promotion.publish_ref} -> {published.checksum}")
            won = _finish(promotion, Promotion.State.SUCCEEDED, published_commit=published)
            promotion.refresh_from_db(from_queryset=_run_queryset())
            if won:
                audit_record(
                    action="promotion.run",
                    actor_label="worker",
                    obj=promotion,
                    message=f"{target_stage.name}:{promotion.publish_ref} "
                    f"{promotion.previous_head.checksum[:10] if promotion.previous_head else '(new)'} -> "
                    f"{published.checksum[:10]}"
                    + (f" (re-commit of {promotion.commit.checksum[:10]})" if recommit else ""),
                    commands=log.commands,
                    data={
                        "published": published.checksum,
                        "commit": promotion.commit.checksum,
                        "previous": promotion.previous_head.checksum if promotion.previous_head else None,
                        "recommit": recommit,
                        "bound_refs": promotion.bound_refs,
                    },
                )
                promotion_published.send(sender=Promotion, promotion=promotion)
                transaction.on_commit(lambda: notifications.notify_requester(promotion, "done"))
                task_send_args_on_commit("releases.static_delta", [promotion.pk])
    return promotion


def _record_published(promotion: Promotion, checksum: str, *, recommit: bool) -> Commit:
    """Record in the database that the target ref now points at ``checksum`` (a no-op when already recorded)."""
    rollback = promotion.kind == Promotion.Kind.ROLLBACK
    extra: dict[str, Any] = {}
    if rollback:
        extra["restores"] = promotion.commit
    elif recommit:
        extra["recommit_of"] = promotion.commit
    published = commit_import(repo=stage_repo(promotion.target_stage), checksum=checksum, **extra)
    ref_move(
        stage=promotion.target_stage,
        ref_name=promotion.publish_ref,
        commit=published,
        source=RefUpdate.Source.ROLLBACK if rollback else RefUpdate.Source.PROMOTION,
        promotion=promotion,
    )
    return published


def _run_steps(promotion: Promotion, log: JobLog) -> tuple[str, bool]:
    target_stage = promotion.target_stage
    source = _RunRepo(promotion.source_stage.repo_dir, log=log, timeout=settings.PORTAL_COMMAND_TIMEOUT)
    target = _RunRepo(target_stage.repo_dir, log=log, timeout=settings.PORTAL_COMMAND_TIMEOUT)
    for stage, repo in ((promotion.source_stage, source), (target_stage, target)):
        if not repo.exists():
            raise _Refused(f"The {stage.name} stage has no ostree repo at {stage.repo_dir}; nothing was moved.")
    key = _signing(target_stage, log)
    if not promotion.previous_head_recorded:
        # Read once, before anything moves: a re-run must compare with the head the first attempt saw, and move
        # and bind the same refs even if the stage's rings changed meanwhile.
        plan = publish_plan(stage=target_stage, ref=promotion.target_ref, kind=promotion.kind)
        promotion.moved_ref = plan.move_ref
        promotion.bound_refs = list(plan.bind_refs)
        head = target.resolve(promotion.publish_ref)
        promotion.previous_head = commit_import(repo=target, checksum=head) if head is not None else None
        promotion.previous_head_recorded = True
        promotion.save(update_fields=["moved_ref", "bound_refs", "previous_head", "previous_head_recorded"])
        if plan.bind_refs:
            log.write(f"# moves {plan.move_ref}; the commit is bound to {', '.join(plan.bind_refs)} too")
        log.write(f"# previous head of {promotion.publish_ref}: {head or '(none)'}")
    if promotion.kind == Promotion.Kind.ROLLBACK:
        published, recommit = _publish_rollback(promotion, target, log)
    else:
        published, recommit = _publish_promote(promotion, source, target, log)
    try:
        signed_now = False
        if key is not None:
            # Sign once (gpg-sign appends a duplicate when run twice), and before the delta, which embeds signatures.
            signed_now = target.gpg_sign(published, key[0], key[1])
        previous = promotion.previous_head.checksum if promotion.previous_head else None
        if signed_now and previous and f"{previous}-{published}" in target.static_deltas():
            # A delta embeds its target's signatures as they were: the delta task makes this one again.
            target.delete_static_delta(f"{previous}-{published}")
        # The ref is published with this summary; the static delta follows in a task of its own (services.deltas).
        stage_summary_update(repo=target, stage=target_stage)
    except OstreeError as exc:
        raise PublishIncomplete(published, recommit, exc) from exc
    return published, recommit


def promotion_target_head(promotion: Promotion) -> Commit | None:
    """Return the commit the target ref points at now, as the database knows it."""
    ref = Ref.objects.filter(stage=promotion.target_stage, name=promotion.target_ref).select_related("head").first()
    return ref.head if ref is not None else None
