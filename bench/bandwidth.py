"""Item 4: what a bare-user client downloads from the portal's prod repo for an update of a few packages.

The update is promoted by the portal's own task on a worker (which generates the static delta old -> new). Two
bare-user clients that already hold the old commit (their ``prod:REF`` points at it) pull the new one over HTTP from
/repo/prod/ served by gunicorn: one as usual (static delta), one with ``--disable-static-deltas``. Bytes are counted
server-side from gunicorn's access log and client-side from the "transferred" line ostree prints.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from bench import trees
from bench.common import (
    celery_worker,
    configure_celery_client,
    django_setup,
    gunicorn,
    portal_environment,
    postgres_database,
    promote_through_worker,
    say,
    scratch_dir,
)
from bench.promotion import DEV_REF, PROD_REF, _metadata
from bench.report import ItemResult, Row
from tests.services import redis_server

FULL = {"files": 2_000, "bytes": 40 * 1024 * 1024, "packages": 4}
QUICK = {"files": 100, "bytes": 200 * 1024, "packages": 2}
_TRANSFERRED = re.compile(r"([\d.]+)\s*(bytes|kB|KiB|MB|MiB|GB|GiB) transferred")
_UNITS = {"bytes": 1, "kB": 1000, "KiB": 1024, "MB": 1000**2, "MiB": 1024**2, "GB": 1000**3, "GiB": 1024**3}


def _client_bytes(stdout: str) -> float | None:
    matches = list(_TRANSFERRED.finditer(stdout))
    return float(matches[-1].group(1)) * _UNITS[matches[-1].group(2)] if matches else None


def _served(access_log: Path, start: int) -> tuple[int, list[str]]:
    """Return the bytes served and the request lines logged after line ``start``."""
    total = 0
    requests = []
    for line in access_log.read_text().splitlines()[start:]:
        # Bytes gunicorn counted as sent; for files it hands to sendfile() that count stays 0, so take the
        # Content-Length it sent instead (a repo file is always sent whole: ostree asks for no ranges).
        status, sent, length, request = line.split(" ", 3)
        total += max(int(sent) if sent.isdigit() else 0, int(length) if length.isdigit() else 0)
        requests.append(f"{status} {request.strip(chr(34))}")
    return total, requests


def run(*, quick: bool) -> ItemResult:
    result = ItemResult(4, "Client bandwidth")
    scale = QUICK if quick else FULL
    with scratch_dir("bandwidth") as tmp, postgres_database() as db_url, redis_server(tmp) as redis_url:
        env = portal_environment(
            database_url=db_url, var_dir=tmp / "var", extra={"REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url}
        )
        django_setup(env)
        configure_celery_client(redis_url)
        from django.contrib.auth.models import Group, User

        from kinoite_portal.core import roles
        from kinoite_portal.ostree import Repo
        from kinoite_portal.ostree import run as ostree_run
        from kinoite_portal.releases.models import Stage, Treefile

        dev = Repo.init(tmp / "repos/dev")
        prod = Repo.init(tmp / "repos/prod")
        say(f"item 4: writing a tree of {scale['files']:,} files / {scale['bytes'] / 2**20:.0f} MB")
        tree = trees.build(tmp / "tree", files=scale["files"], total_bytes=scale["bytes"], seed=4)
        v1 = dev.commit(
            branch=DEV_REF,
            subject="Kinoite 41.20261125.0",
            tree_dir=tree.root,
            bind_refs=[PROD_REF],
            metadata=_metadata("41.20261125.0", trees.package_list(tree)),
        )
        prod.pull_local(dev, v1)
        prod.set_ref(PROD_REF, v1)
        prod.update_summary()
        updated = trees.change_packages(tree, count=scale["packages"])
        say(f"item 4: committing an update of {len(updated)} packages ({', '.join(updated)})")
        v2 = dev.commit(
            branch=DEV_REF,
            subject="Kinoite 41.20261126.0",
            tree_dir=tree.root,
            bind_refs=[PROD_REF],
            metadata=_metadata("41.20261126.0", trees.package_list(tree, updated=updated)),
        )
        Stage.objects.create(name="dev", order=0, repo_path=str(dev.path))
        Stage.objects.create(name="prod", order=1, repo_path=str(prod.path), min_days_in_previous_stage=0)
        Treefile.objects.create(name="kinoite", content={"ref": DEV_REF}, published_ref=PROD_REF)
        requester = User.objects.create_user("bench-rita", password="x")
        requester.groups.add(Group.objects.get(name=roles.RELEASE_ENGINEERS))
        approver = User.objects.create_user("bench-alice", password="x")
        approver.groups.add(Group.objects.get(name=roles.APPROVERS))
        with celery_worker(env, tmp, queues="default,repo"):
            say("item 4: promoting the update with the portal's task")
            promote_through_worker(v2, requester, approver)
            # The delta follows the published ref in a task of its own.
            deadline = time.monotonic() + 600
            while f"{v1}-{v2}" not in prod.static_deltas() and time.monotonic() < deadline:
                time.sleep(0.2)
        deltas = prod.static_deltas()
        if f"{v1}-{v2}" not in deltas:
            raise RuntimeError(f"the promotion made no static delta {v1[:10]}-{v2[:10]} (deltas: {deltas})")
        delta_dir = next((prod.path / "deltas").rglob("superblock")).parent
        delta_size = sum(p.stat().st_size for p in delta_dir.iterdir())

        access_log = tmp / "access.log"
        server_env = {**env, "PORTAL_SERVE_FILES": "1", "ALLOWED_HOSTS": "127.0.0.1"}
        pulls: dict[str, tuple[int, float | None, list[str]]] = {}
        with gunicorn(server_env, tmp, access_log=access_log) as (port, _source):
            for mode, extra in (("delta", []), ("objects", ["--disable-static-deltas"])):
                client = Repo.init(tmp / f"client-{mode}", mode="bare-user")
                client.pull_local(dev, v1)
                ostree_run(
                    [
                        "ostree",
                        "remote",
                        "add",
                        f"--repo={client.path}",
                        "--no-gpg-verify",
                        "prod",
                        f"http://127.0.0.1:{port}/repo/prod/",
                    ]
                )
                # Remote refs ("prod:REF") are outside what Repo.set_ref validates, so the bare command sets it.
                ostree_run(["ostree", "refs", f"--repo={client.path}", "--force", f"--create=prod:{PROD_REF}", v1])
                start = len(access_log.read_text().splitlines()) if access_log.exists() else 0
                say(f"item 4: bare-user client pulls the update ({mode})")
                pulled = ostree_run(["ostree", "pull", f"--repo={client.path}", *extra, "prod", PROD_REF])
                head = ostree_run(["ostree", "rev-parse", f"--repo={client.path}", f"prod:{PROD_REF}"]).stdout.strip()
                if head != v2:
                    raise RuntimeError(f"the {mode} client did not end on {v2}")
                served, lines = _served(access_log, start)
                pulls[mode] = (served, _client_bytes(pulled.stdout), lines)
                say(
                    f"item 4: {mode}: {served:,} bytes served in {len(lines)} requests; ostree said "
                    f"{pulled.stdout.strip().splitlines()[-1] if pulled.stdout.strip() else '(nothing)'}"
                )
    delta_bytes, delta_client, delta_lines = pulls["delta"]
    plain_bytes, plain_client, plain_lines = pulls["objects"]
    result.rows.append(
        Row(
            4,
            f"bytes served for a {len(updated)}-package update: static delta (baseline: --disable-static-deltas)",
            delta_bytes / 1024,
            plain_bytes / 1024,
            "KiB",
            "<= 1.00x",
            delta_bytes <= plain_bytes,
        )
    )
    if delta_client is not None and plain_client is not None:
        result.rows.append(
            Row(
                4,
                "same, as the ostree client reports it",
                delta_client / 1024,
                plain_client / 1024,
                "KiB",
                "<= 1.00x",
                delta_client <= plain_client,
            )
        )
    loose = sum(1 for line in delta_lines if "/objects/" in line)
    parts = sum(1 for line in delta_lines if "/deltas/" in line)
    result.notes.append(
        f"tree {scale['files']:,} files / {scale['bytes'] / 2**20:.0f} MB; {len(updated)} packages of "
        f"{trees.FILES_PER_PACKAGE} files each rebuilt (a few KB differ per file); delta on disk {delta_size:,} bytes"
    )
    result.notes.append(
        f"delta path: {len(delta_lines)} requests ({parts} delta superblock/parts, {loose} loose objects); "
        f"objects path: {len(plain_lines)} requests"
    )
    return result
