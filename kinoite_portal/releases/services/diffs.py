"""Package and file changes between two commits, counted once in a worker and stored for the pages."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Q

from kinoite_portal.ostree import OstreeError, Package, PackageDiff, Repo, diff_packages
from kinoite_portal.releases import selectors
from kinoite_portal.releases.models import IMAGE_RPMDB_KEY, Commit, Promotion, Ref, RefUpdate, Stage, TreeDiff
from kinoite_portal.releases.services.queueing import task_send_args_on_commit

logger = logging.getLogger(__name__)


def _packages(commit: Commit) -> list[Package]:
    return [Package(p[0], int(p[1]), p[2], p[3], p[4]) for p in commit.packages]


def _pkg(package: Package | None) -> list[object]:
    assert package is not None
    return list(package.as_tuple())


def package_changes_json(diff: PackageDiff) -> dict[str, list[object]]:
    """Return a package diff as the JSON ``TreeDiff.package_changes`` stores."""
    return {
        "added": [_pkg(c.new) for c in diff.added],
        "removed": [_pkg(c.old) for c in diff.removed],
        "upgraded": [[_pkg(c.old), _pkg(c.new)] for c in diff.upgraded],
        "downgraded": [[_pkg(c.old), _pkg(c.new)] for c in diff.downgraded],
    }


def _file_counts(old: Commit, new: Commit) -> tuple[tuple[int, int, int] | None, str]:
    """Run ``ostree diff`` in a repo holding both trees (the commits themselves, or the commits they copy)."""
    if old.is_image or new.is_image:
        # A registry holds compressed layers, not a checkout: comparing files would mean unpacking both images.
        return None, "Images are compared by their package lists; their files are not counted."
    pairs = [(old.checksum, new.checksum)]
    pairs += [
        (a.checksum, b.checksum)
        for a in Commit.objects.filter(content_checksum=old.content_checksum).exclude(pk=old.pk)[:3]
        for b in [new, *Commit.objects.filter(content_checksum=new.content_checksum).exclude(pk=new.pk)[:3]]
    ]
    for stage in Stage.objects.order_by("order"):
        repo = Repo(stage.repo_dir, timeout=settings.PORTAL_COMMAND_TIMEOUT)
        if not repo.exists():
            continue
        for a, b in pairs:
            if repo.has_commit(a) and repo.has_commit(b):
                try:
                    result = repo.diff(a, b)
                except OstreeError as exc:
                    return None, str(exc)[:500]
                return (result.added, result.removed, result.modified), ""
    return None, "No repo holds both trees, so file changes cannot be counted."


def tree_diff_compute(*, old: Commit, new: Commit, force: bool = False) -> TreeDiff:
    """Return the stored changes from ``old``'s tree to ``new``'s, counting them now if they are not stored yet."""
    if not force:
        found = TreeDiff.objects.filter(old_tree=old.content_checksum, new_tree=new.content_checksum).first()
        if found is not None:
            return found
    started = time.monotonic()
    unread = [c.pk for c in (old, new) if c.is_image and c.package_database is None]
    changes = package_changes_json(diff_packages(_packages(old), _packages(new)))
    counts, error = _file_counts(old, new)
    added, removed, modified = counts or (0, 0, 0)
    diff, _ = TreeDiff.objects.update_or_create(
        old_tree=old.content_checksum,
        new_tree=new.content_checksum,
        defaults={
            "files_added": added,
            "files_removed": removed,
            "files_modified": modified,
            "package_changes": changes,
            "error": error,
            "seconds": time.monotonic() - started,
        },
    )
    # An image's package list stored while this counted: the read's own recount may have run before this row was
    # written, so count again with the list (the read commits the list before it recounts, so one of the two sees it).
    if unread and Commit.objects.filter(pk__in=unread, metadata__has_key=IMAGE_RPMDB_KEY).exists():
        return tree_diff_compute(old=Commit.objects.get(pk=old.pk), new=Commit.objects.get(pk=new.pk), force=True)
    return diff


def tree_diffs_recount(*, tree: str) -> int:
    """Count again every stored change from or to ``tree`` (its package list became known); return how many."""
    done = 0
    for stored in TreeDiff.objects.filter(Q(old_tree=tree) | Q(new_tree=tree)).only("old_tree", "new_tree"):
        old = Commit.objects.filter(content_checksum=stored.old_tree).first()
        new = Commit.objects.filter(content_checksum=stored.new_tree).first()
        if old is not None and new is not None:
            tree_diff_compute(old=old, new=new, force=True)
            done += 1
    return done


def tree_diffs_compute(*, pairs: Iterable[tuple[int, int]]) -> list[TreeDiff]:
    """Count the changes of each (old commit id, new commit id) pair not counted yet; skip pairs of one tree."""
    done = []
    for old_id, new_id in pairs:
        old = Commit.objects.filter(pk=old_id).first()
        new = Commit.objects.filter(pk=new_id).first()
        if old is None or new is None or old.content_checksum == new.content_checksum:
            continue
        done.append(tree_diff_compute(old=old, new=new))
    return done


def tree_diffs_queue(pairs: Iterable[tuple[Commit | None, Commit | None]]) -> None:
    """Queue the counting of each (old, new) pair for a worker once the surrounding transaction commits."""
    ids = sorted({(o.pk, n.pk) for o, n in pairs if o is not None and n is not None and o.pk != n.pk})
    if not ids:
        return
    # A send that fails leaves the pages saying the files are not counted; the next ref move or request sends again.
    task_send_args_on_commit("releases.tree_diffs", [[list(pair) for pair in ids]])


def pairs_for_ref_move(update: RefUpdate) -> list[tuple[Commit | None, Commit | None]]:
    """Return the (old, new) commit pairs the pages will compare after ``update``.

    In the last stage: the new head against the heads of earlier stages and against the commits of open requests
    for that ref (the commit and approval pages compare with what the last stage runs). In an earlier stage: what
    the last stage runs against the new head. Always: the previous head against the new one.
    """
    stage = update.ref.stage
    last = Stage.objects.order_by("-order").first()
    pairs: list[tuple[Commit | None, Commit | None]] = [(update.previous_commit, update.commit)]
    if update.promotion is not None:
        # The approval page compares the requested commit with the head the run replaced, which the database may
        # not have known before the run read it from the repo.
        pairs.append((update.promotion.previous_head, update.promotion.commit))
    owner = selectors.treefile_owning([update.ref.name])
    treefiles = [owner] if owner is not None else []
    if last is None:
        return pairs
    if stage.pk == last.pk:
        earlier = [t.ref for t in treefiles]
        heads = (
            Ref.objects.filter(stage__order__lt=last.order, name__in=earlier)
            .select_related("head")
            .defer(*selectors.without_heavy("head"))
        )
        pairs += [(update.commit, ref.head) for ref in heads]
        waiting = (
            Promotion.objects.filter(target_stage=last, target_ref=update.ref.name, state__in=Promotion.OPEN_STATES)
            .select_related("commit")
            .defer(*selectors.without_heavy("commit"), "log")
        )
        pairs += [(update.commit, p.commit) for p in waiting]
    else:
        published = [t.published_ref for t in treefiles]
        heads = (
            Ref.objects.filter(stage=last, name__in=published)
            .select_related("head")
            .defer(*selectors.without_heavy("head"))
        )
        pairs += [(ref.head, update.commit) for ref in heads]
    return pairs


def tree_diffs_after_ref_move(*, update_id: int) -> None:
    """Count the pairs a ref move makes the pages compare: now for an earlier stage's ref, which only a worker
    (a compose, an import) moves; queued for the last stage's, so a promotion's own run does not wait for them."""
    commits = ("commit", "previous_commit", "promotion__commit", "promotion__previous_head")
    # Pairs need only ids and content checksums: four Kinoite-sized package lists would cost a promotion's worker
    # more than its own steps. The counting reads the lists it compares (tree_diffs_compute).
    update = (
        RefUpdate.objects.select_related("ref__stage", *commits)
        .defer(*(name for relation in commits for name in selectors.without_heavy(relation)), "promotion__log")
        .filter(pk=update_id)
        .first()
    )
    if update is None:
        return
    pairs = pairs_for_ref_move(update)
    last = Stage.objects.order_by("-order").first()
    if last is not None and update.ref.stage_id == last.pk:
        tree_diffs_queue(pairs)
        return
    try:
        tree_diffs_compute(pairs=[(o.pk, n.pk) for o, n in pairs if o is not None and n is not None])
    except OstreeError:
        # The ref moved all the same; the pages say the files were not counted.
        logger.exception("could not count the changes of ref move #%s", update_id)


def tree_diffs_for_request(promotion: Promotion) -> None:
    """Queue the pair the approval page shows: what the target runs now against the requested commit."""
    head = Ref.objects.filter(stage=promotion.target_stage, name=promotion.target_ref).select_related("head").first()
    tree_diffs_queue([(head.head if head else None, promotion.commit)])
