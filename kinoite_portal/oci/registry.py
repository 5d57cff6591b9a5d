"""Images in a registry, through skopeo: inspect by tag or digest, copy by digest, sign with simple signing.

An image is known by its manifest digest (``sha256:`` + 64 hex). Promotions copy by digest, never by tag, with
``--preserve-digests`` so the bytes the approvers saw are the bytes clients pull. Signatures are GPG "simple
signing" signatures kept in a lookaside store (a folder of files the portal serves read-only); each one names the
image's digest AND the tag it was made for, so publishing a digest under a tag needs a signature for that tag.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kinoite_portal.ostree.errors import CommandError, OstreeError
from kinoite_portal.ostree.runner import CommandResult, LogSink, display_command, run

SKOPEO_TIMEOUT = 1800.0
_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
_HEX_RE = re.compile(r"[0-9a-f]{64}")
# host[:port]: a DNS name or an IPv4 address (what a stage may name; no scheme, no path).
_REGISTRY_RE = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?(?::[0-9]{1,5})?"
)
# The distribution spec's repository name: lower-case path components separated by "/".
_REPOSITORY_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_FPR_RE = re.compile(r"[0-9A-F]{40}")


class RegistryError(OstreeError):
    """A registry operation failed or was refused (bad name, missing image, missing signature)."""


class ImageNotFound(RegistryError):
    """No image answers to that tag or digest."""


def validate_registry(value: str) -> str:
    """Return ``value`` if it is a registry host[:port] (no scheme, no path)."""
    if not isinstance(value, str) or len(value) > 255 or not _REGISTRY_RE.fullmatch(value):
        raise RegistryError(f"{value!r} is not a registry host[:port] (e.g. registry.example.com:5000).")
    return value


def validate_repository(value: str) -> str:
    """Return ``value`` if it is a repository name a registry accepts (e.g. ``prod/kinoite``)."""
    if not isinstance(value, str) or len(value) > 255 or not _REPOSITORY_RE.fullmatch(value):
        raise RegistryError(f"{value!r} is not a repository name (lower-case path such as prod/kinoite).")
    return value


def validate_tag(value: str) -> str:
    """Return ``value`` if it is a valid tag."""
    if not isinstance(value, str) or not _TAG_RE.fullmatch(value):
        raise RegistryError(f"{value!r} is not an image tag (letters, digits, _ . -; at most 128).")
    return value


def validate_digest(value: str) -> str:
    """Return ``sha256:<hex>`` for a digest given with or without its ``sha256:`` prefix."""
    text = value.strip().lower() if isinstance(value, str) else ""
    if _HEX_RE.fullmatch(text):
        text = f"sha256:{text}"
    if not _DIGEST_RE.fullmatch(text):
        raise RegistryError(f"{value!r} is not a sha256 manifest digest; images are promoted by digest.")
    return text


@dataclass(frozen=True)
class ImageRepo:
    """One repository in one registry (what an OCI stage names)."""

    registry: str
    repository: str
    tls_verify: bool = True

    def __post_init__(self) -> None:
        validate_registry(self.registry)
        validate_repository(self.repository)

    @property
    def name(self) -> str:
        """Return ``registry/repository``: the scope policy.json and registries.d use."""
        return f"{self.registry}/{self.repository}"

    def tagged(self, tag: str) -> str:
        """Return the fully specified reference ``registry/repository:tag`` (what a simple signature names)."""
        return f"{self.name}:{validate_tag(tag)}"

    @property
    def tls(self) -> str:
        """Return skopeo's value for this repository's ``--tls-verify`` options ("true" or "false")."""
        return "true" if self.tls_verify else "false"

    def docker(self, *, tag: str | None = None, digest: str | None = None) -> str:
        """Return the skopeo ``docker://`` reference of a tag or a digest of this repository."""
        if digest is not None:
            return f"docker://{self.name}@{validate_digest(digest)}"
        if tag is None:
            raise ValueError("a tag or a digest is needed")
        return f"docker://{self.tagged(tag)}"


@dataclass(frozen=True)
class ImageInfo:
    """What ``skopeo inspect`` says about one image."""

    digest: str
    created: datetime | None
    labels: Mapping[str, str] = field(default_factory=dict)
    layers: tuple[str, ...] = ()

    @property
    def hex(self) -> str:
        """Return the digest's 64 hex characters (what the portal stores as the image's checksum)."""
        return self.digest.split(":", 1)[1]

    @property
    def version(self) -> str:
        """Return the ``version`` label, else ``org.opencontainers.image.version``, else ""."""
        return self.labels.get("version") or self.labels.get("org.opencontainers.image.version") or ""

    @property
    def ostree_commit(self) -> str:
        """Return the ``ostree.commit`` label of an image made from an ostree commit, else ""."""
        return self.labels.get("ostree.commit", "")


def _parse_created(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    # Go prints nanoseconds; Python reads at most microseconds.
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if match is None:
        return None
    base, fraction, zone = match.groups()
    parsed = datetime.fromisoformat(f"{base}.{(fraction or '0')[:6]:<06}{'+00:00' if zone == 'Z' else zone}")
    return parsed.astimezone(UTC)


def parse_inspect(text: str) -> ImageInfo:
    """Return the ImageInfo of ``skopeo inspect`` JSON output."""
    try:
        data: Any = json.loads(text)
        digest = validate_digest(str(data["Digest"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise RegistryError(f"skopeo inspect gave output that is not an image description: {exc}") from None
    labels = data.get("Labels") or {}
    return ImageInfo(
        digest=digest,
        created=_parse_created(data.get("Created")),
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
        layers=tuple(str(layer) for layer in data.get("Layers") or ()),
    )


def manifest_digest(manifest: bytes) -> str:
    """Return the digest of a manifest's bytes (what the registry and a signature name it by)."""
    return f"sha256:{hashlib.sha256(manifest).hexdigest()}"


def lookaside_yaml(scopes: Mapping[str, str], *, staging: bool) -> str:
    """Return a registries.d file naming the lookaside store of each scope (``registry/repository`` -> URL)."""
    lines = ["docker:"]
    for scope, url in sorted(scopes.items()):
        lines.append(f"  {json.dumps(scope)}:")
        lines.append(f"    lookaside: {json.dumps(url)}")
        if staging:
            lines.append(f"    lookaside-staging: {json.dumps(url)}")
    return "\n".join(lines) + "\n"


def signature_dir(sigstore: Path, repo: ImageRepo, digest: str) -> Path:
    """Return the lookaside folder of ``digest`` in ``repo`` (the layout containers/image reads and writes)."""
    return Path(sigstore) / f"{repo.repository}@{validate_digest(digest).replace(':', '=')}"


class Skopeo:
    """skopeo for one job: the job's log, timeout, registry credentials and (for signing) lookaside store.

    ``auth_file`` is a containers auth.json (0600 on the worker host) holding the registries' credentials; the
    portal never keeps registry passwords in its database. ``sigstore`` is the folder signatures are written to, one
    sub-folder per repository (``<repository>@sha256=<hex>/signature-N``), served read-only to clients.
    """

    def __init__(
        self,
        *,
        log: LogSink | None = None,
        timeout: float = SKOPEO_TIMEOUT,
        auth_file: str | os.PathLike[str] | None = None,
        sigstore: str | os.PathLike[str] | None = None,
    ) -> None:
        self.log = log
        self.timeout = timeout
        self.auth_file = Path(auth_file) if auth_file else None
        self.sigstore = Path(sigstore) if sigstore else None

    def _run(
        self,
        args: list[str],
        *,
        env: Mapping[str, str] | None = None,
        check: bool = True,
        registries_d: Path | None = None,
    ) -> CommandResult:
        head = ["skopeo"]
        if registries_d is not None:
            head += ["--registries.d", str(registries_d)]
        return run([*head, *args], log=self.log, timeout=self.timeout, env=env, check=check)

    def _read(self, args: list[str]) -> CommandResult | None:
        """Run a read; return None when the registry answers that the image or repository does not exist.

        That answer goes to the log as one plain line, not as a failed command: before a first promotion the prod
        tag is simply not there yet.
        """
        argv = ["skopeo", *args]
        if self.log is not None:
            self.log.write("+ " + display_command(argv))
        result = run(argv, timeout=self.timeout, check=False)
        if result.ok:
            return result
        missing = _missing(result.stderr)
        if self.log is not None:
            self.log.write("# not in the registry" if missing else f"! exit {result.returncode}")
            if not missing:
                for line in result.stderr.strip().splitlines()[-5:]:
                    self.log.write(line)
        if missing:
            return None
        raise CommandError(result.argv, result.returncode, result.stdout, result.stderr)

    def _auth(self) -> list[str]:
        return ["--authfile", str(self.auth_file)] if self.auth_file and self.auth_file.exists() else []

    # ------------------------------------------------------------------------------------------------ reading

    def inspect(self, repo: ImageRepo, *, tag: str | None = None, digest: str | None = None) -> ImageInfo:
        """Return the image a tag or a digest names; raise ImageNotFound when there is none."""
        ref = repo.docker(tag=tag, digest=digest)
        result = self._read(["inspect", "--no-tags", f"--tls-verify={repo.tls}", *self._auth(), ref])
        if result is None:
            raise ImageNotFound(f"{ref.removeprefix('docker://')} does not exist in the registry.")
        return parse_inspect(result.stdout)

    def find(self, repo: ImageRepo, tag: str) -> ImageInfo | None:
        """Return the image ``tag`` points at now, or None when the tag (or the repository) does not exist."""
        try:
            return self.inspect(repo, tag=tag)
        except ImageNotFound:
            return None

    def resolve(self, repo: ImageRepo, tag: str) -> str | None:
        """Return the digest ``tag`` points at now, or None when the tag (or the repository) does not exist."""
        found = self.find(repo, tag)
        return found.digest if found else None

    def has_image(self, repo: ImageRepo, digest: str) -> bool:
        """Return True if ``repo`` holds a manifest with ``digest``."""
        try:
            self.inspect(repo, digest=digest)
        except ImageNotFound:
            return False
        return True

    def raw_manifest(self, repo: ImageRepo, digest: str) -> bytes:
        """Return the manifest bytes of ``digest`` (what a simple signature is made over)."""
        result = self._read(
            [
                "inspect",
                "--raw",
                f"--tls-verify={repo.tls}",
                *self._auth(),
                repo.docker(digest=digest),
            ]
        )
        if result is None:
            raise ImageNotFound(f"{repo.name}@{digest} does not exist in the registry.")
        manifest = result.stdout.encode()
        if manifest_digest(manifest) != validate_digest(digest):
            raise RegistryError(
                f"{repo.name} served a manifest for {digest} that hashes to {manifest_digest(manifest)}"
            )
        return manifest

    def tags(self, repo: ImageRepo) -> list[str]:
        """Return the repository's tags (an empty list when the repository does not exist yet)."""
        result = self._read(["list-tags", f"--tls-verify={repo.tls}", *self._auth(), f"docker://{repo.name}"])
        if result is None:
            return []
        try:
            return sorted(str(tag) for tag in json.loads(result.stdout).get("Tags") or [])
        except (ValueError, AttributeError) as exc:
            raise RegistryError(f"skopeo list-tags gave output that is not a tag list: {exc}") from None

    def copy_to_dir(self, repo: ImageRepo, digest: str, folder: Path) -> None:
        """Copy the blobs of ``repo@digest`` (manifest, config, compressed layers) into ``folder`` (skopeo's dir:).

        skopeo has no command that fetches one blob, so every layer is downloaded; none is unpacked.
        """
        ref = repo.docker(digest=digest)
        result = self._read(["copy", "--quiet", f"--src-tls-verify={repo.tls}", *self._auth(), ref, f"dir:{folder}"])
        if result is None:
            raise ImageNotFound(f"{ref.removeprefix('docker://')} does not exist in the registry.")

    # ------------------------------------------------------------------------------------------------ writing

    def copy_signed(
        self,
        source: ImageRepo,
        digest: str,
        dest: ImageRepo,
        *,
        sign_tag: str | None,
        fingerprint: str | None = None,
        gnupg_home: str | os.PathLike[str] | None = None,
    ) -> None:
        """Copy ``source@digest`` to ``dest@digest`` (no tag moves), signed for ``dest:sign_tag`` on the way.

        ``--preserve-digests`` refuses any change to the manifest, so ``dest`` then holds the very digest. The
        signature names ``dest:sign_tag`` (``--sign-identity``): the tag the image is about to be published under,
        not the digest reference it is copied to. Copying from a repository onto itself only adds the signature.
        """
        digest = validate_digest(digest)
        args = [
            "copy",
            "--quiet",
            "--preserve-digests",
            f"--src-tls-verify={source.tls}",
            f"--dest-tls-verify={dest.tls}",
            *self._auth(),
        ]
        env: dict[str, str] = {}
        with self._lookaside(dest if fingerprint else None) as registries_d:
            if fingerprint:
                if not _FPR_RE.fullmatch(fingerprint) or gnupg_home is None or sign_tag is None:
                    raise RegistryError("signing needs a 40-hex fingerprint, its GnuPG home and the tag to sign for")
                args += ["--sign-by", fingerprint, "--sign-identity", dest.tagged(sign_tag)]
                env["GNUPGHOME"] = str(gnupg_home)
            else:
                args.append("--remove-signatures")
            args += [source.docker(digest=digest), dest.docker(digest=digest)]
            self._run(args, env=env, registries_d=registries_d)

    def tag(self, repo: ImageRepo, digest: str, tag: str) -> None:
        """Point ``repo:tag`` at ``digest``, which ``repo`` already holds (only the manifest is written).

        No lookaside store is configured for this copy, so the signatures of ``digest`` are neither read nor
        rewritten: moving a tag never touches the store.
        """
        args = [
            "copy",
            "--quiet",
            "--preserve-digests",
            "--remove-signatures",
            f"--src-tls-verify={repo.tls}",
            f"--dest-tls-verify={repo.tls}",
            *self._auth(),
            repo.docker(digest=digest),
            repo.docker(tag=tag),
        ]
        with self._lookaside(None) as registries_d:
            self._run(args, registries_d=registries_d)

    def signature_paths(self, repo: ImageRepo, digest: str) -> list[Path]:
        """Return the signature files of ``digest`` in the lookaside store, in order."""
        if self.sigstore is None:
            return []
        folder = signature_dir(self.sigstore, repo, digest)
        found = []
        index = 1
        while (folder / f"signature-{index}").is_file():
            found.append(folder / f"signature-{index}")
            index += 1
        return found

    def signed_for(
        self,
        repo: ImageRepo,
        digest: str,
        tag: str,
        *,
        fingerprint: str,
        gnupg_home: str | os.PathLike[str],
        manifest: bytes | None = None,
    ) -> bool:
        """Return True if the store holds a signature by ``fingerprint`` of ``digest`` for ``repo:tag``.

        Checked with ``skopeo standalone-verify`` against the manifest, exactly as a client's policy would check
        it: the registry's, or ``manifest`` when the caller has it already (its bytes must hash to ``digest``).
        """
        paths = self.signature_paths(repo, digest)
        if not paths:
            return False
        if manifest is None:
            manifest = self.raw_manifest(repo, digest)
        elif manifest_digest(manifest) != validate_digest(digest):
            raise RegistryError(f"the manifest given for {digest} hashes to {manifest_digest(manifest)}")
        with tempfile.TemporaryDirectory(prefix="portal-manifest-") as tmp:
            manifest_path = Path(tmp) / "manifest.json"
            manifest_path.write_bytes(manifest)
            for path in paths:
                result = self._run(
                    ["standalone-verify", str(manifest_path), repo.tagged(tag), fingerprint, str(path)],
                    env={"GNUPGHOME": str(gnupg_home)},
                    check=False,
                )
                if result.ok:
                    return True
        return False

    @contextmanager
    def _lookaside(self, repo: ImageRepo | None) -> Iterator[Path]:
        """Yield a registries.d folder naming the store for ``repo`` only (none at all for None)."""
        with tempfile.TemporaryDirectory(prefix="portal-registries-") as tmp:
            if repo is not None:
                if self.sigstore is None:
                    raise RegistryError("signing needs a lookaside store (sigstore folder) to write signatures to")
                store = self.sigstore.absolute()
                store.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / "portal.yaml").write_text(lookaside_yaml({repo.name: store.as_uri()}, staging=True))
            yield Path(tmp)


def _missing(stderr: str) -> bool:
    text = stderr.lower()
    return any(
        marker in text
        for marker in ("manifest unknown", "name unknown", "not found", "repository name not known", "404")
    )
