"""Counting package and file changes between commits, on the ``default`` queue.

The worker of that queue runs on the repo host (it reads the repos), and a long count never holds up a promotion
waiting on the ``repo`` queue.
"""

from __future__ import annotations

from celery import shared_task

from kinoite_portal.releases.services.diffs import tree_diffs_compute


@shared_task(name="releases.tree_diffs", acks_late=True, ignore_result=True)
def tree_diffs_task(pairs: list[list[int]]) -> int:
    """Count and store the changes of each [old commit id, new commit id] pair; return how many are stored."""
    return len(tree_diffs_compute(pairs=[(int(old), int(new)) for old, new in pairs]))
