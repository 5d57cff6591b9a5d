"""Counting package and file changes between commits, on the ``repo`` queue (it needs the repos)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="releases.repo_tree_diffs", acks_late=True, ignore_result=True)
def tree_diffs_task(pairs: list[list[int]]) -> int:
    """Count and store the changes of each [old commit id, new commit id] pair; return how many are stored."""
    from kinoite_portal.releases.services.diffs import tree_diffs_compute

    return len(tree_diffs_compute(pairs=[(int(old), int(new)) for old, new in pairs]))
