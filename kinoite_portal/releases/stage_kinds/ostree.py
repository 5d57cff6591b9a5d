"""OSTree stages: commits by checksum in an ostree repo, refs, signed commits and summaries, static deltas.

The run follows ostree-lab-notes section 11: by checksum, never by ref name; the commit must exist in the source
repo, be newer than the target head and be bound to the target ref (else the same tree is re-committed under it);
the portal lock for the target repo is held for the whole run (by the caller) and libostree's shared repo lock
across "pull-local + ref creation"; the commit is signed once, the static delta made after signing, the summary
written signed. Every step is safe to repeat: a worker killed at any point leaves the ref on the old or the new
commit, and the next attempt finishes the job.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.utils import timezone

from kinoite_portal.ostree import LogSink, OstreeError, Repo, next_version, parse_version, repo_lock
from kinoite_portal.ostree.model import CommitInfo
from kinoite_portal.ostree.validate import is_checksum
from kinoite_portal.releases.errors import PromotionConflict, PromotionError, PublishIncomplete, SigningKeyError
from kinoite_portal.releases.errors import PublishRefused as _Refused
from kinoite_portal.releases.models import Commit, Promotion, RefUpdate, SigningKey, Stage
from kinoite_portal.releases.publishing import publish_plan
from kinoite_portal.releases.services.commits import commit_import, ref_move
from kinoite_portal.releases.services.queueing import task_send_args_on_commit
from kinoite_portal.releases.services.stages import stage_repo, stage_repo_required, stage_summary_update
from kinoite_portal.releases.stage_kinds.base import LOCK_TIMEOUT, signing_key_check


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


class OstreeKind:
    """An ostree repo on the repo host: candidates are commits, refs are ostree refs."""

    def require(self, stage: Stage) -> None:
        stage_repo_required(stage)

    def candidate(self, *, stage: Stage, checksum: str) -> Commit:
        repo = stage_repo_required(stage)
        if not repo.has_commit(checksum):
            raise PromotionError(f"Commit {checksum} is not in the {stage.name} repo; nothing was requested.")
        return commit_import(repo=repo, checksum=checksum)

    def holds(self, *, stage: Stage, checksum: str) -> bool:
        return stage_repo_required(stage).has_commit(checksum)

    def request_check(self, *, stage: Stage, ref: str, commit: Commit) -> None:
        target_repo = stage_repo_required(stage)
        # On a stage with rings the run moves the first ring's ref; what that ref holds is what is newest there.
        move_ref = publish_plan(stage=stage, ref=ref, kind=Promotion.Kind.PROMOTE).move_ref
        head = target_repo.resolve(move_ref) or target_repo.resolve(ref)
        if head is None:
            return
        head_info = target_repo.read_commit(head, packages=False)
        if head == commit.checksum or head_info.content_checksum == commit.content_checksum:
            raise PromotionConflict(f"{stage.name} already publishes this tree as {move_ref} ({head[:10]}).")
        if commit.timestamp < head_info.timestamp:
            raise PromotionError(
                f"Commit {commit.checksum[:10]} ({commit.version}, {commit.timestamp:%Y-%m-%d %H:%M}) is older than "
                f"{stage.name}'s head {head[:10]} ({head_info.version}, {head_info.timestamp:%Y-%m-%d %H:%M}): "
                "clients would refuse it as a downgrade. To go back, request a rollback instead."
            )

    def publish(self, *, promotion: Promotion, log: LogSink) -> tuple[str, bool]:
        return _run_steps(promotion, log)

    def record_published(self, *, promotion: Promotion, checksum: str, recommit: bool) -> Commit:
        return _record_published(promotion, checksum, recommit=recommit)

    def after_publish(self, *, promotion: Promotion) -> None:
        # The static delta from the previous head follows in a task of its own (services.deltas).
        task_send_args_on_commit("releases.static_delta", [promotion.pk])

    def ring_move_refusal(self, *, promotion: Promotion, commit: Commit, refs: list[str]) -> str | None:
        # The promotion bound the commit to every ring ref; a ring added since is not among them.
        unbound = [ref for ref in refs if commit.ref_binding is not None and ref not in commit.ref_binding]
        if not unbound:
            return None
        return (
            f"{commit.checksum[:10]} is not bound to {', '.join(unbound)}; clients would refuse it there "
            "(the ring was added after the promotion). Nothing was moved."
        )

    def move_ring_refs(self, *, stage: Stage, refs: list[str], checksum: str, log: LogSink) -> dict[str, str | None]:
        # The commit was signed once by the promotion; only the refs and the signed summary change.
        repo = stage_repo(stage, log=log)
        previous: dict[str, str | None] = {}
        for ref in refs:
            previous[ref] = repo.resolve(ref)
            if previous[ref] != checksum:
                repo.set_ref(ref, checksum)
        stage_summary_update(repo=repo, stage=stage)
        return previous

    def after_ring_move(self, *, stage: Stage, ref: str, sources: list[str], checksum: str) -> None:
        for old in sources:
            task_send_args_on_commit("releases.ref_static_delta", [stage.pk, ref, old, checksum])

    def resign(self, *, stage: Stage, key: SigningKey) -> tuple[list[str], list[str], list[str]]:
        # Each ref head, the static deltas to the heads signed now (they embed their target's signatures), the summary.
        repo = stage_repo(stage)
        if not repo.exists():
            raise SigningKeyError(f"The {stage.name} stage has no ostree repo at {stage.repo_dir}; nothing was signed.")
        heads = sorted(set(repo.refs().values()))
        signed = [head for head in heads if repo.gpg_sign(head, key.fingerprint, key.gnupg_home)]
        deltas = []
        for name in repo.static_deltas():
            source, _, target = name.rpartition("-")
            if target in signed and (not source or repo.has_commit(source)):
                repo.generate_static_delta(source or None, target, force=True)
                deltas.append(name)
        stage_summary_update(repo=repo, stage=stage)
        return heads, signed, deltas


def _already_published(promotion: Promotion, target: Repo, current: str | None, log: LogSink) -> str | None:
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


def _publish_promote(promotion: Promotion, source: Repo, target: Repo, log: LogSink) -> tuple[str, bool]:
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


def _publish_rollback(promotion: Promotion, target: Repo, log: LogSink) -> tuple[str, bool]:
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


def _run_steps(promotion: Promotion, log: LogSink) -> tuple[str, bool]:
    target_stage = promotion.target_stage
    source = _RunRepo(promotion.source_stage.repo_dir, log=log, timeout=settings.PORTAL_COMMAND_TIMEOUT)
    target = _RunRepo(target_stage.repo_dir, log=log, timeout=settings.PORTAL_COMMAND_TIMEOUT)
    for stage, repo in ((promotion.source_stage, source), (target_stage, target)):
        if not repo.exists():
            raise _Refused(f"The {stage.name} stage has no ostree repo at {stage.repo_dir}; nothing was moved.")
    key = signing_key_check(target_stage, log)
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
