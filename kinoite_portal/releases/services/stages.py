"""Creating stages and the repos they own; the one place that says how a portal job opens, locks and publishes one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import transaction

from kinoite_portal.oci.registry import ImageRepo, RegistryError, Skopeo, validate_registry, validate_repository
from kinoite_portal.ostree import LockTimeout, LogSink, Repo, portal_lock
from kinoite_portal.releases.errors import PromotionError
from kinoite_portal.releases.models import Stage


@transaction.atomic
def stage_ensure(*, name: str, order: int, repo_path: str, public_url: str = "", **policy: int) -> Stage:
    """Return the stage called ``name``, creating it and initialising its archive repo when missing."""
    stage, _ = Stage.objects.get_or_create(
        name=name, defaults={"order": order, "repo_path": repo_path, "public_url": public_url, **policy}
    )
    Repo.init(stage.repo_dir, mode="archive")
    return stage


def stage_repo(stage: Stage, *, log: LogSink | None = None) -> Repo:
    """Return the stage's repo with the portal's command timeout."""
    return Repo(stage.repo_dir, log=log, timeout=settings.PORTAL_COMMAND_TIMEOUT)


def stage_repo_required(stage: Stage) -> Repo:
    """Return the stage's repo; raise PromotionError (nothing done) when it does not exist on disk."""
    repo = stage_repo(stage)
    if not repo.exists():
        raise PromotionError(
            f"The {stage.name} stage has no ostree repo at {stage.repo_dir}; create it (ostree init --mode=archive) "
            "or fix the stage's repo path in the admin. Nothing was moved."
        )
    return repo


def repo_lock_name(stage: Stage) -> str:
    """Return the portal lock name of ``stage``'s repo: every portal job that writes that repo takes it."""
    return f"repo-{stage.name}"


@contextmanager
def stage_repo_lock(stage: Stage, *, timeout: float) -> Iterator[None]:
    """Hold the portal lock of ``stage``'s repo (composes, promotions and prunes of one repo never overlap)."""
    with portal_lock(settings.PORTAL_LOCK_DIR, repo_lock_name(stage), timeout=timeout):
        yield


def stage_repo_busy(stage: Stage) -> bool:
    """Return True while a portal job holds ``stage``'s repo lock (the kernel drops it when that job dies)."""
    try:
        with stage_repo_lock(stage, timeout=0):
            return False
    except LockTimeout:
        return True


def stage_summary_update(*, repo: Repo, stage: Stage) -> None:
    """Rewrite the summary of ``stage``'s repo, signed with the stage's key when it has one."""
    key = stage.signing_key
    if key is None:
        repo.update_summary()
    else:
        repo.update_summary(gpg_key_id=key.fingerprint, gpg_homedir=key.gnupg_home)


def stage_image_repo(stage: Stage) -> ImageRepo:
    """Return the registry repository of an OCI stage; raise PromotionError when the stage names none."""
    if stage.kind != Stage.Kind.OCI:
        raise PromotionError(f"The {stage.name} stage is an {stage.get_kind_display()}, not an OCI image repository.")
    try:
        return ImageRepo(stage.image_registry, stage.image_repository, tls_verify=stage.registry_tls_verify)
    except RegistryError as exc:
        raise PromotionError(f"The {stage.name} stage's registry is not usable: {exc} Fix it in the admin.") from None


def stage_sigstore(stage: Stage) -> Path:
    """Return the folder of the simple-signing signatures of ``stage``'s images (the lookaside store)."""
    return Path(settings.PORTAL_SIGSTORE_ROOT) / stage.name


def stage_skopeo(stage: Stage, *, log: LogSink | None = None) -> Skopeo:
    """Return skopeo for jobs on ``stage``: the portal's timeout, the worker's registry auth file, its store."""
    return Skopeo(
        log=log,
        timeout=settings.PORTAL_COMMAND_TIMEOUT,
        auth_file=settings.PORTAL_REGISTRY_AUTH_FILE,
        sigstore=stage_sigstore(stage),
    )


def stage_kind_errors(*, kind: str, repo_path: str, image_registry: str, image_repository: str) -> dict[str, str]:
    """Return field -> message for what a stage of ``kind`` lacks or gets wrong (empty when the stage is usable).

    An OSTree stage needs its repo path; an OCI stage its registry and repository, in the forms registries accept
    (credentials never go here: they live in the worker's auth file, PORTAL_REGISTRY_AUTH_FILE).
    """
    errors: dict[str, str] = {}
    if kind == Stage.Kind.OSTREE:
        if not repo_path.strip():
            errors["repo_path"] = "An OSTree stage needs the path of its repo."
        return errors
    if kind != Stage.Kind.OCI:
        return {"kind": f"Unknown kind of stage {kind!r}."}
    for name, value, validate, example in (
        ("image_registry", image_registry, validate_registry, "registry.example.com:5000"),
        ("image_repository", image_repository, validate_repository, "prod/kinoite"),
    ):
        if not value.strip():
            errors[name] = f"An OCI stage needs this, e.g. {example}."
            continue
        try:
            validate(value)
        except RegistryError as exc:
            errors[name] = str(exc)
    return errors
