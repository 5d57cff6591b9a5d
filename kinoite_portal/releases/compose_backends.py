"""Compose backends: one interface, chosen by ``settings.PORTAL_COMPOSE_BACKEND``.

- ``rpm-ostree``: production. Runs ``rpm-ostree compose tree --unified-core`` on a build host that has it.
- ``buildah``: Containerfiles (bootc images), for an OCI stage. Builds with ``buildah build`` in the worker's own
  storage and pushes to the stage's registry under the Containerfile's tag; the outcome is the pushed digest.
- ``local``: demos and tests. Builds a small deterministic bootable tree from the treefile and the demo package
  catalogue, and commits it with the metadata rpm-ostree writes. It executes NOTHING from ``postprocess`` or
  ``postprocess-script`` (shell meant for rpm-ostree's sandbox): the tree records those entries, unrun, in
  ``usr/share/kinoite-portal/postprocess-not-run.json`` and the job log says so.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings
from django.utils import timezone

from kinoite_portal.oci.build import BuildahStore, PushedImage, build_and_push
from kinoite_portal.ostree import (
    CommitNotFound,
    LogSink,
    NullLog,
    Repo,
    build_tree,
    compute_input_hash,
    next_version,
    run_rpm_ostree_compose,
)
from kinoite_portal.ostree.treebuilder import canonical_json
from kinoite_portal.releases import package_catalogue
from kinoite_portal.releases.containerfile_schema import context_files


class ComposeFailed(Exception):
    """The backend could not produce a commit; the message is the one-line reason shown above the log."""


class ComposeCancelled(ComposeFailed):
    """Someone cancelled the compose while the backend ran; nothing was committed."""


@dataclass
class ComposeJob:
    """Everything a backend needs for one compose."""

    treefile: dict[str, Any]
    dev_ref: str
    published_ref: str
    repo_path: Path
    workdir: Path
    revision_number: int
    timeout: float
    log: LogSink = field(default_factory=NullLog)
    should_cancel: Callable[[], bool] = lambda: False
    day: date | None = None
    # For an image build: where the image goes (registry/repository:tag), and the versions that tag already had.
    image_reference: str = ""
    tls_verify: bool = True
    authfile: Path | None = None
    existing_versions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ComposeOutcome:
    """A new commit (``checksum``), or ``checksum=None`` when the inputs did not change.

    For an image build, ``checksum`` is the pushed manifest digest's hex and ``image`` what the build pushed.
    """

    checksum: str | None
    input_hash: str
    version: str = ""
    image: PushedImage | None = None


class ComposeBackend(Protocol):
    name: str

    def compose(self, job: ComposeJob) -> ComposeOutcome:
        """Compose ``job.treefile`` into ``job.repo_path``; raise ComposeFailed or an ostree error on failure."""


class LocalBackend:
    """Build a small bootable tree from the demo catalogue and commit it as rpm-ostree would."""

    name = "local"

    def compose(self, job: ComposeJob) -> ComposeOutcome:
        deadline = time.monotonic() + job.timeout
        treefile = job.treefile
        wave = max(0, job.revision_number - 1)
        job.log.write(
            f"Resolving {len(treefile.get('packages', []))} requested packages against the demo catalogue "
            f"(update wave {min(wave, package_catalogue.wave_count() - 1)})"
        )
        try:
            packages = package_catalogue.resolve(
                treefile.get("packages", []), wave=wave, exclude=treefile.get("exclude-packages", [])
            )
        except (package_catalogue.PackageNotFound, ValueError) as exc:
            job.log.write(f"error: {exc}")
            raise ComposeFailed(f"depsolve failed: {exc}") from exc
        kernel = next((p for p in packages if p.name == "kernel"), None)
        if kernel is None:
            raise ComposeFailed("no kernel in the package set: add 'kernel' to packages (a bootable image needs one)")
        job.log.write(f"Resolved {len(packages)} packages: " + ", ".join(p.nevra for p in packages))
        input_hash = compute_input_hash(treefile, packages)
        job.log.write(f"Input hash: {input_hash}")
        repo = Repo(job.repo_path, log=job.log, timeout=max(1.0, deadline - time.monotonic()))
        head = repo.resolve(job.dev_ref)
        existing: list[str] = []
        if head is not None:
            existing = [c.version for c in repo.log(job.dev_ref) if c.version]
            current = repo.read_commit(head)
            if current.input_hash == input_hash:
                job.log.write(f"No apparent changes since previous commit {head} ({current.version}): not committing")
                return ComposeOutcome(checksum=None, input_hash=input_hash, version=current.version or "")
        releasever = str(treefile.get("releasever") or kernel.release.rsplit("fc", 1)[-1] or "41")
        version = next_version(releasever, job.day or timezone.now().date(), existing)
        for key in ("postprocess", "postprocess-script"):
            if key in treefile:
                job.log.write(
                    f"NOT running '{key}' ({len(treefile[key]) if isinstance(treefile[key], list) else 1} entries): "
                    "the local backend never executes treefile shell; recorded in "
                    "/usr/share/kinoite-portal/postprocess-not-run.json"
                )
        tree = job.workdir / "tree"
        if tree.exists():
            shutil.rmtree(tree)
        kver = f"{kernel.version}-{kernel.release}.{kernel.arch}"
        build_tree(tree, treefile=treefile, packages=packages, version=version, kernel_version=kver)
        job.log.write(f"Built tree for {version} (kernel {kver}) in {tree}")
        if job.should_cancel():
            raise ComposeCancelled("cancelled before committing")
        if time.monotonic() >= deadline:
            raise ComposeFailed(f"timed out after {job.timeout:g} s before committing")
        repo = repo.using(timeout=max(1.0, deadline - time.monotonic()))
        checksum = repo.commit(
            branch=job.dev_ref,
            tree_dir=tree,
            subject=f"Kinoite {version}",
            body=f"Composed by the portal's local backend from a treefile with {len(packages)} packages.",
            metadata={
                "version": version,
                "rpmostree.inputhash": input_hash,
                "rpmostree.rpmdb.pkglist": list(packages),
                "ostree.bootable": True,
                "ostree.linux": kver,
                "rpmostree.treefile": canonical_json(treefile),
            },
            bind_refs=[job.published_ref],
        )
        job.log.write(f"Wrote commit: {checksum}")
        shutil.rmtree(tree, ignore_errors=True)
        return ComposeOutcome(checksum=checksum, input_hash=input_hash, version=version)


def stage_compose_config(*, treefile: dict[str, Any], config_dir: Path, workdir: Path) -> list[str]:
    """Copy the yum .repo files and include targets rpm-ostree reads next to the treefile; return the files copied.

    rpm-ostree resolves the treefile's ``repos`` ids and ``include`` paths relative to the treefile's own folder, and
    the treefile here comes from the database, so the folder is assembled per compose from PORTAL_COMPOSE_CONFIG_DIR.
    Raises ComposeFailed, before anything runs, when a repo id or an include target is missing.
    """
    copied = []
    if config_dir.is_dir():
        for source in sorted(config_dir.rglob("*")):
            if source.is_file() and source.name != "treefile.json":
                target = workdir / source.relative_to(config_dir)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                copied.append(str(source.relative_to(config_dir)))
    defined: set[str] = set()
    for repo_file in workdir.glob("*.repo"):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(repo_file)
        except configparser.Error as exc:
            raise ComposeFailed(f"{repo_file.name} in {config_dir} is not a valid yum .repo file: {exc}") from None
        defined.update(parser.sections())
    missing = [str(repo) for repo in treefile.get("repos", []) if str(repo) not in defined]
    if missing:
        raise ComposeFailed(
            f"repo {', '.join(repr(r) for r in missing)} is not defined by any .repo file in {config_dir} "
            "(PORTAL_COMPOSE_CONFIG_DIR); add e.g. fedora.repo there"
        )
    includes = treefile.get("include", [])
    for include in [includes] if isinstance(includes, str) else includes:
        if not (workdir / str(include)).is_file():
            raise ComposeFailed(f"include {include!r} is not in {config_dir} (PORTAL_COMPOSE_CONFIG_DIR)")
    return copied


class RpmOstreeBackend:
    """Run ``rpm-ostree compose tree`` on a build host (the production backend)."""

    name = "rpm-ostree"

    def compose(self, job: ComposeJob) -> ComposeOutcome:
        job.workdir.mkdir(parents=True, exist_ok=True)
        config_dir = Path(settings.PORTAL_COMPOSE_CONFIG_DIR)
        copied = stage_compose_config(treefile=job.treefile, config_dir=config_dir, workdir=job.workdir)
        job.log.write(f"Compose inputs from {config_dir}: {', '.join(copied) or 'none'}")
        treefile_path = job.workdir / "treefile.json"
        treefile_path.write_text(json.dumps(job.treefile, indent=2, sort_keys=True) + "\n")
        cachedir = Path(settings.PORTAL_COMPOSE_WORKDIR) / "cache" / job.dev_ref.replace("/", "_")
        commitid = job.workdir / "commitid"
        checksum = run_rpm_ostree_compose(
            treefile_path=treefile_path,
            repo_path=job.repo_path,
            cachedir=cachedir,
            commitid_file=commitid,
            log=job.log,
            timeout=job.timeout,
            should_cancel=job.should_cancel,
        )
        repo = Repo(job.repo_path, log=job.log)
        target = checksum or repo.resolve(job.dev_ref)
        input_hash = ""
        version = ""
        if target is not None:
            try:
                info = repo.read_commit(target)
            except CommitNotFound:
                info = None
            if info is not None:
                input_hash, version = info.input_hash or "", info.version or ""
        return ComposeOutcome(checksum=checksum, input_hash=input_hash, version=version)


def image_version(releasever: str, day: date, existing: list[str]) -> str:
    """Return the next version label of an image: ``<releasever>.<YYYYMMDD>.<n>``, or ``<YYYYMMDD>.<n>`` without one."""
    if releasever:
        return next_version(releasever, day, existing)
    prefix = f"{day:%Y%m%d}."
    serials = [int(v[len(prefix) :]) for v in existing if v.startswith(prefix) and v[len(prefix) :].isdigit()]
    return f"{prefix}{max(serials) + 1 if serials else 0}"


def buildah_store() -> BuildahStore:
    """Return the worker's own buildah storage (PORTAL_BUILDAH_ROOT), apart from the host's container storage."""
    root = Path(settings.PORTAL_BUILDAH_ROOT)
    return BuildahStore(root=root / "storage", runroot=root / "run")


class BuildahBackend:
    """Build a Containerfile with buildah and push it to the OCI stage's registry (the ``buildah`` backend)."""

    name = "buildah"

    def compose(self, job: ComposeJob) -> ComposeOutcome:
        content = job.treefile
        if not job.image_reference:
            raise ComposeFailed("a Containerfile builds into an OCI stage only (no registry/repository:tag given)")
        input_hash = hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()
        job.log.write(f"Input hash: {input_hash}")
        context_dir = job.workdir / "context"
        context_dir.mkdir(parents=True, exist_ok=True)
        files = context_files(content)
        for path, text, mode in files:
            target = context_dir / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            target.chmod(mode)
        containerfile = job.workdir / "Containerfile"
        containerfile.write_text(str(content["containerfile"]), encoding="utf-8")
        job.log.write(f"Context: {len(files)} files" + (": " + ", ".join(p for p, _, _ in files[:20]) if files else ""))
        version = image_version(
            str(content.get("releasever") or ""), job.day or timezone.now().date(), job.existing_versions
        )
        job.log.write(f"Building {job.image_reference} as version {version}")
        pushed = build_and_push(
            containerfile=containerfile,
            context_dir=context_dir,
            reference=job.image_reference,
            store=buildah_store(),
            workdir=job.workdir / "build",
            labels={"version": version, "org.opencontainers.image.version": version},
            tls_verify=job.tls_verify,
            authfile=job.authfile,
            isolation=settings.PORTAL_BUILDAH_ISOLATION,
            log=job.log,
            timeout=job.timeout,
            should_cancel=job.should_cancel,
        )
        return ComposeOutcome(checksum=pushed.digest_hex, input_hash=input_hash, version=version, image=pushed)


BACKENDS: dict[str, type[LocalBackend] | type[RpmOstreeBackend] | type[BuildahBackend]] = {
    LocalBackend.name: LocalBackend,
    RpmOstreeBackend.name: RpmOstreeBackend,
    BuildahBackend.name: BuildahBackend,
}
# The backends that build Containerfiles (into OCI stages); every other backend composes treefiles (into ostree).
IMAGE_BACKENDS = frozenset({BuildahBackend.name})


def get_backend(name: str | None = None) -> ComposeBackend:
    """Return the backend called ``name`` (default: settings.PORTAL_COMPOSE_BACKEND)."""
    key = name or settings.PORTAL_COMPOSE_BACKEND
    try:
        return BACKENDS[key]()
    except KeyError:
        raise ComposeFailed(f"unknown compose backend {key!r}; use one of {', '.join(BACKENDS)}") from None
