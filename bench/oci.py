"""Item 8: an OCI promotion by digest through the portal's worker against the bare ``skopeo copy`` it wraps.

A multi-layer image (4 layers of random data, 192 MB; built from scratch with buildah, as the Fedora base images
cannot be fetched here) is in the dev registry. Baseline: one ``skopeo copy --preserve-digests --sign-by`` of that
digest to ``prod:stable`` on another registry, which copies, signs and tags in one command. Measured: the same
promotion requested and approved through the services and carried out by ``releases.promotion_run`` on a worker
(copy by digest signed for the tag, the signature checked as a client would, then the tag moved), from
``started_at`` to ``finished_at``. Every run, bare or task, copies into a registry of its own that starts empty,
so every layer is really sent (two repositories of one registry would share blobs by a cross-repository mount).
Runs alternate (bare, task, bare, ...).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.common import (
    celery_worker,
    configure_celery_client,
    django_setup,
    median,
    portal_environment,
    postgres_database,
    say,
    scratch_dir,
)
from bench.report import ItemResult, Row
from tests.services import redis_server

FULL = {"layers": 4, "layer_bytes": 48 * 1024 * 1024}
QUICK = {"layers": 3, "layer_bytes": 256 * 1024}
RUNS = 3
TARGET_RATIO = 1.15


def _layers(count: int, size: int) -> list[dict[str, bytes]]:
    # Random bytes do not compress, so each layer sends about its size; four files per layer, as a tree would.
    return [{f"usr/share/bench/layer{n}/part{i}.bin": os.urandom(size // 4) for i in range(4)} for n in range(count)]


def _bare_copy(dev_host: str, prod_host: str, digest: str, fingerprint: str, gnupg_home: Path, sigstore: Path) -> float:
    from kinoite_portal.oci.registry import lookaside_yaml
    from kinoite_portal.ostree import run

    with tempfile.TemporaryDirectory(prefix="bench-registries-") as registries_d:
        scope = f"{prod_host}/prod/kinoite"
        (Path(registries_d) / "bench.yaml").write_text(lookaside_yaml({scope: sigstore.as_uri()}, staging=True))
        started = time.perf_counter()
        run(
            [
                "skopeo",
                "--registries.d",
                registries_d,
                "copy",
                "--quiet",
                "--preserve-digests",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                "--sign-by",
                fingerprint,
                f"docker://{dev_host}/dev/kinoite@{digest}",
                f"docker://{scope}:stable",
            ],
            env={"GNUPGHOME": str(gnupg_home)},
            timeout=900,
        )
        return time.perf_counter() - started


def _promote(checksum: str, requester: Any, approver: Any, timeout: float = 900) -> Any:
    from kinoite_portal.releases.models import Promotion
    from kinoite_portal.releases.services.approvals import approval_grant
    from kinoite_portal.releases.services.promotions import promotion_request

    promotion = promotion_request(user=requester, checksum=checksum, comment="bench")
    approval_grant(user=approver, promotion=promotion, comment="bench")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        promotion.refresh_from_db()
        if promotion.state in Promotion.FINISHED_STATES:
            break
        time.sleep(0.05)
    else:
        raise TimeoutError(f"promotion #{promotion.pk} still {promotion.state} after {timeout} s")
    if promotion.state != Promotion.State.SUCCEEDED:
        raise RuntimeError(f"promotion #{promotion.pk} {promotion.state}: {promotion.failure_reason}\n{promotion.log}")
    return promotion


def run(*, quick: bool) -> ItemResult:
    result = ItemResult(8, "OCI promotion by digest")
    scale = QUICK if quick else FULL
    # gpg-agent's socket path must stay short, so the key lives outside the (long) scratch folder.
    gnupg_root = Path(tempfile.mkdtemp(prefix="kbo-", dir="/tmp"))
    with ExitStack() as stack:
        tmp = stack.enter_context(scratch_dir("oci"))
        db_url = stack.enter_context(postgres_database())
        redis_url = stack.enter_context(redis_server(tmp))
        var = tmp / "var"
        env = portal_environment(
            database_url=db_url,
            var_dir=var,
            extra={"REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url, "PORTAL_GNUPG_ROOT": str(gnupg_root)},
        )
        django_setup(env)
        configure_celery_client(redis_url)
        from django.contrib.auth.models import Group, User

        from kinoite_portal.core import roles
        from kinoite_portal.ostree import gpg
        from kinoite_portal.releases.models import Stage, Treefile
        from kinoite_portal.releases.services.images import image_record
        from kinoite_portal.releases.services.signing import signing_key_generate
        from tests.oci_registry import build_image, registry_server  # imports Django models: after django_setup

        stack.callback(lambda: [gpg.kill_agent(home) for home in gnupg_root.iterdir()])
        dev = stack.enter_context(registry_server(tmp / "registry-dev"))
        total = scale["layers"] * scale["layer_bytes"]
        say(f"item 8: building a {scale['layers']}-layer image of {total / 2**20:.1f} MB with buildah")
        digest = build_image(
            registry=dev,
            repository="dev/kinoite",
            tag="latest",
            layers=_layers(scale["layers"], scale["layer_bytes"]),
            labels={"version": "41.20261130.0", "containers.bootc": "1"},
            workdir=tmp / "build",
        )
        shutil.rmtree(tmp / "build", ignore_errors=True)
        dev_stage = Stage.objects.create(
            name="dev",
            order=0,
            kind="oci",
            image_registry=dev.host,
            image_repository="dev/kinoite",
            registry_tls_verify=False,
        )
        prod_stage = Stage.objects.create(
            name="prod",
            order=1,
            kind="oci",
            image_registry=dev.host,
            image_repository="prod/kinoite",
            registry_tls_verify=False,
            required_approvals=1,
            min_days_in_previous_stage=0,
        )
        Treefile.objects.create(
            name="kinoite-bootc", kind="containerfile", content={"tag": "latest"}, published_ref="stable"
        )
        commit = image_record(stage=dev_stage, tag="latest")
        assert commit is not None
        key = signing_key_generate(
            stage=prod_stage, name="Bench prod", email="bench@portal.invalid", queue_resign=False
        )
        requester = User.objects.create_user("bench-rita", password="x")
        requester.groups.add(Group.objects.get(name=roles.RELEASE_ENGINEERS))
        approver = User.objects.create_user("bench-alice", password="x")
        approver.groups.add(Group.objects.get(name=roles.APPROVERS))

        bare_times: list[float] = []
        task_times: list[float] = []
        commands: list[str] = []
        say("item 8: starting a Celery worker (queue repo)")
        with celery_worker(env, tmp, queues="repo"):
            for attempt in range(RUNS):
                with registry_server(tmp / f"registry-bare-{attempt}") as prod:
                    bare_times.append(
                        _bare_copy(dev.host, prod.host, digest, key.fingerprint, Path(key.gnupg_home), tmp / "bare-sig")
                    )
                shutil.rmtree(tmp / f"registry-bare-{attempt}", ignore_errors=True)
                say(f"item 8: bare skopeo copy run {attempt + 1}/{RUNS}: {bare_times[-1]:.3f} s")

                with registry_server(tmp / f"registry-task-{attempt}") as prod:
                    Stage.objects.filter(pk=prod_stage.pk).update(image_registry=prod.host)
                    promotion = _promote(commit.checksum, requester, approver)
                task_times.append((promotion.finished_at - promotion.started_at).total_seconds())
                commands = [line.split("+ ", 1)[1] for line in promotion.log.splitlines() if " + " in line]
                shutil.rmtree(tmp / f"registry-task-{attempt}", ignore_errors=True)
                say(f"item 8: promotion task run {attempt + 1}/{RUNS}: {task_times[-1]:.3f} s")
    shutil.rmtree(gnupg_root, ignore_errors=True)

    bare, task = median(bare_times), median(task_times)
    result.rows.append(
        Row(
            8,
            f"OCI promotion by digest, {scale['layers']} layers / {total / 2**20:.1f} MB: task vs bare skopeo copy, "
            f"median of {RUNS}",
            task,
            bare,
            "s",
            f"<= {TARGET_RATIO}x",
            task / bare <= TARGET_RATIO,
        )
    )
    result.notes.append(
        "runs (s): bare "
        + " / ".join(f"{t:.3f}" for t in bare_times)
        + "; task "
        + " / ".join(f"{t:.3f}" for t in task_times)
    )
    copies = [c for c in commands if " copy " in f" {c} "]
    result.notes.append(
        f"the task ran {len(commands)} skopeo commands against the bare 1 ({len(copies)} copies: the signed copy "
        "by digest and the manifest-only tag move; the rest inspect the tag and the digests and verify the "
        "signature as a client would)."
    )
    return result
