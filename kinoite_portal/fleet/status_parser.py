"""Read ``rpm-ostree status --json`` exactly as rpm-ostree writes it.

The document has ``deployments`` (newest first: a staged or pending deployment, then the booted one, then the
rollback) and top-level ``cached-update`` and ``update-driver``. Each deployment carries ``checksum``, ``version``,
``timestamp`` (seconds since the epoch), ``booted``, ``staged``, ``pinned`` and either ``origin`` (``remote:ref``) or,
for a host rebased to a container image, ``container-image-reference`` (``ostree-image-signed:docker://...``) and
``container-image-reference-digest`` (the image's manifest digest). A host that layers packages reports its
local commit in ``checksum`` and the image it runs in ``base-checksum`` / ``base-version``.

Fields this module does not know are kept (``raw``), never rejected: rpm-ostree adds fields between releases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

CHECKSUM_RE = re.compile(r"[0-9a-fA-F]{64}")
MAX_DEPLOYMENTS = 32
MAX_VERSION_LENGTH = 100
MAX_ORIGIN_LENGTH = 500


class StatusError(ValueError):
    """The status document is not what ``rpm-ostree status --json`` writes; the message says what is wrong."""


@dataclass(frozen=True)
class Deployment:
    """One deployment of a host, with the image it runs (``image_checksum``) told apart from its local commit."""

    checksum: str
    version: str
    timestamp: datetime | None
    booted: bool
    staged: bool
    pinned: bool
    origin: str
    remote: str
    ref: str
    container_image_reference: str
    base_checksum: str
    base_version: str
    raw: dict[str, Any] = field(compare=False, repr=False)
    # For a deployment from a container image: the reference split (None when rpm-ostree's reference is not one the
    # portal reads) and the image's manifest digest hex ("" when rpm-ostree does not report it).
    image: ImageRef | None = None
    image_digest: str = ""

    @property
    def layered(self) -> bool:
        """Return whether the host layers packages on top of the image (its local commit differs from the base)."""
        return bool(self.base_checksum) and self.base_checksum != self.checksum

    @property
    def is_container(self) -> bool:
        return bool(self.container_image_reference)

    @property
    def image_checksum(self) -> str:
        """Return the commit of the image this deployment runs: the base for layered hosts, else the commit."""
        return self.base_checksum or self.checksum

    @property
    def image_version(self) -> str:
        if self.base_checksum:
            return self.base_version or self.version
        return self.version

    @property
    def image_key(self) -> str:
        """Return the checksum the portal knows the deployment's image by: an image's digest, else the commit."""
        return self.image_digest or self.image_checksum

    def summary(self) -> dict[str, Any]:
        """Return the fields the host page shows, as JSON-storable values."""
        return {
            "checksum": self.checksum,
            "image_checksum": self.image_key,
            "version": self.image_version,
            "local_version": self.version,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "booted": self.booted,
            "staged": self.staged,
            "pinned": self.pinned,
            "origin": self.container_image_reference or self.origin,
            "layered": self.layered,
            "container": self.is_container,
            "packages": _string_list(self.raw.get("requested-packages")),
        }


@dataclass(frozen=True)
class HostStatus:
    """A parsed status document: the deployments and which of them is booted, staged and the rollback."""

    deployments: list[Deployment]
    booted: Deployment
    staged: Deployment | None
    rollback: Deployment | None
    cached_update: dict[str, Any] | None
    update_driver: dict[str, Any] | None
    raw: dict[str, Any] = field(compare=False, repr=False)

    @property
    def booted_is_default(self) -> bool:
        """Return whether the booted deployment is the default one (what the boot loader picks first).

        rpm-ostree lists the default first, except that an update staged for the next boot comes before it. A
        booted deployment further down means the boot loader fell back (or an admin picked an older entry).
        """
        index = next(i for i, deployment in enumerate(self.deployments) if deployment.booted)
        return index == 0 or (index == 1 and self.deployments[0].staged)


def _string_list(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def _checksum(entry: dict[str, Any], key: str, where: str, *, required: bool) -> str:
    value = entry.get(key)
    if value is None:
        if required:
            raise StatusError(f"{where}: '{key}' is missing")
        return ""
    if not isinstance(value, str) or not CHECKSUM_RE.fullmatch(value):
        raise StatusError(f"{where}: '{key}' must be 64 hexadecimal characters")
    return value.lower()


def _text(entry: dict[str, Any], key: str, where: str, max_length: int) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise StatusError(f"{where}: '{key}' must be a string")
    if len(value) > max_length or any(ord(ch) < 32 for ch in value):
        raise StatusError(f"{where}: '{key}' must be at most {max_length} printable characters")
    return value


def _flag(entry: dict[str, Any], key: str, where: str) -> bool:
    value = entry.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise StatusError(f"{where}: '{key}' must be true or false")
    return value


def _timestamp(entry: dict[str, Any], where: str) -> datetime | None:
    value = entry.get("timestamp")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise StatusError(f"{where}: 'timestamp' must be seconds since the epoch")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise StatusError(f"{where}: 'timestamp' {value} is out of range") from None


def _optional_object(doc: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise StatusError(f"'{key}' must be an object or null")
    return value


def parse_deployment(entry: Any, index: int) -> Deployment:
    """Return one deployment of the ``deployments`` array."""
    where = f"deployments[{index}]"
    if not isinstance(entry, dict):
        raise StatusError(f"{where} must be an object")
    origin = _text(entry, "origin", where, MAX_ORIGIN_LENGTH)
    container = _text(entry, "container-image-reference", where, MAX_ORIGIN_LENGTH)
    if not origin and not container:
        raise StatusError(f"{where}: needs 'origin' (remote:ref) or 'container-image-reference'")
    remote, sep, ref = origin.partition(":")
    if not sep:
        # A local ref without a remote (``ostree admin deploy REF`` from a local repo).
        remote, ref = "", origin
    base_checksum = _checksum(entry, "base-checksum", where, required=False)
    digest = entry.get("container-image-reference-digest")
    return Deployment(
        checksum=_checksum(entry, "checksum", where, required=True),
        version=_text(entry, "version", where, MAX_VERSION_LENGTH),
        timestamp=_timestamp(entry, where),
        booted=_flag(entry, "booted", where),
        staged=_flag(entry, "staged", where),
        pinned=_flag(entry, "pinned", where),
        origin="" if container else origin,
        remote="" if container else remote,
        ref="" if container else ref,
        container_image_reference=container,
        base_checksum=base_checksum,
        base_version=_text(entry, "base-version", where, MAX_VERSION_LENGTH) if base_checksum else "",
        raw=entry,
        image=parse_ostree_image_reference(container) if container else None,
        image_digest=_digest(digest, where, "container-image-reference-digest") if container and digest else "",
    )


def parse_status(doc: Any) -> HostStatus:
    """Return the parsed ``rpm-ostree status --json`` document, or raise StatusError saying what is wrong."""
    if not isinstance(doc, dict):
        raise StatusError("'status' must be the JSON object rpm-ostree status --json prints")
    entries = doc.get("deployments")
    if not isinstance(entries, list):
        raise StatusError("'status.deployments' must be a list")
    if not entries:
        raise StatusError("'status.deployments' is empty: a host always has at least its booted deployment")
    if len(entries) > MAX_DEPLOYMENTS:
        raise StatusError(f"'status.deployments' has more than {MAX_DEPLOYMENTS} entries")
    deployments = [parse_deployment(entry, index) for index, entry in enumerate(entries)]
    booted_indexes = [index for index, d in enumerate(deployments) if d.booted]
    if len(booted_indexes) != 1:
        raise StatusError(f"exactly one deployment must be booted, found {len(booted_indexes)}")
    booted_index = booted_indexes[0]
    if sum(1 for d in deployments if d.staged) > 1:
        raise StatusError("at most one deployment can be staged")
    # rpm-ostree lists a staged or pending deployment before the booted one, and the rollback right after it.
    staged = next((d for d in deployments if d.staged), None)
    if staged is None and booted_index > 0:
        staged = deployments[0]
    rollback = deployments[booted_index + 1] if booted_index + 1 < len(deployments) else None
    return HostStatus(
        deployments=deployments,
        booted=deployments[booted_index],
        staged=staged,
        rollback=rollback,
        cached_update=_optional_object(doc, "cached-update"),
        update_driver=_optional_object(doc, "update-driver"),
        raw=doc,
    )


# --- bootc ------------------------------------------------------------------------------------------------------------
#
# ``bootc status --json`` prints one ``BootcHost`` object (``apiVersion: org.containers.bootc/v1``; v1alpha1 before
# bootc 1.0): ``spec.image`` is the image the host follows ({image, transport, signature}), and ``status.booted``,
# ``status.staged`` and ``status.rollback`` are boot entries (or null), each with ``image`` = {image: {image,
# transport, signature}, version, timestamp (RFC 3339), imageDigest ("sha256:..."), architecture}, ``cachedUpdate``
# (the same shape: an update fetched but not staged), ``pinned``, ``incompatible`` and ``ostree`` {checksum,
# deploySerial}. ``status.booted`` is null on a system that bootc did not deploy. ``signature`` is "insecure",
# "containerPolicy", {"ostreeRemote": NAME}, or absent: absent means the image was fetched without signature
# verification (``bootc switch`` without ``--enforce-container-sigpolicy``).

BOOTC_API_VERSIONS = {"org.containers.bootc/v1", "org.containers.bootc/v1alpha1"}
DIGEST_RE = re.compile(r"sha256:([0-9a-fA-F]{64})")
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
MAX_IMAGE_LENGTH = 255  # the column REGISTRY/REPOSITORY is stored in holds 255


class Signature:
    """What a bootc host verifies its image with, as stored in ``Host.image_signature``."""

    INSECURE = "insecure"  # bootc reports "insecure": no verification at all
    UNVERIFIED = "unverified"  # no signature requested: policy.json's default may accept anything
    CONTAINER_POLICY = "container-policy"  # /etc/containers/policy.json must accept the image
    OSTREE_REMOTE = "ostree-remote"  # an ostree remote's GPG keys verify the commit in the image
    ACCEPTS_UNSIGNED = (INSECURE, UNVERIFIED)


@dataclass(frozen=True)
class ImageRef:
    """A container image reference split the way the portal matches it to an OCI stage: REGISTRY/REPOSITORY:TAG."""

    image: str
    transport: str
    registry: str
    repository: str
    tag: str
    signature: str

    @property
    def origin(self) -> str:
        """Return the reference as the host page shows it: the image, prefixed by its transport unless a registry."""
        return self.image if self.transport == "registry" else f"{self.transport}:{self.image}"

    @property
    def source(self) -> str:
        """Return REGISTRY/REPOSITORY for an image fetched from a registry, else "" (a local or archived image)."""
        return f"{self.registry}/{self.repository}" if self.registry else ""


@dataclass(frozen=True)
class BootEntry:
    """One of a bootc host's boot entries (booted, staged or rollback)."""

    image: ImageRef
    digest: str  # the manifest digest's 64 hex characters, lowercased
    version: str
    timestamp: datetime | None
    architecture: str
    pinned: bool
    incompatible: bool
    ostree_checksum: str
    cached_update_digest: str

    def summary(self, *, booted: bool = False, staged: bool = False) -> dict[str, Any]:
        """Return the fields the host page shows, in the shape of ``Deployment.summary``."""
        return {
            "checksum": self.ostree_checksum,
            "image_checksum": self.digest,
            "version": self.version,
            "local_version": self.version,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "booted": booted,
            "staged": staged,
            "pinned": self.pinned,
            "origin": self.image.origin,
            "layered": False,
            "container": True,
            "packages": [],
            "signature": self.image.signature,
            "incompatible": self.incompatible,
            "cached_update": self.cached_update_digest,
        }


@dataclass(frozen=True)
class BootcStatus:
    """A parsed ``bootc status --json`` document. ``booted`` is None when bootc did not deploy this system."""

    spec_image: ImageRef | None
    booted: BootEntry | None
    staged: BootEntry | None
    rollback: BootEntry | None
    rollback_queued: bool
    raw: dict[str, Any] = field(compare=False, repr=False)

    @property
    def signature(self) -> str:
        """Return the policy the next ``bootc upgrade`` verifies with: the spec's, else the booted image's."""
        if self.spec_image is not None:
            return self.spec_image.signature
        return self.booted.image.signature if self.booted else ""

    def summaries(self) -> list[dict[str, Any]]:
        """Return the host page's deployments in rpm-ostree's order: staged, booted, rollback."""
        out = []
        if self.staged:
            out.append(self.staged.summary(staged=True))
        if self.booted:
            out.append(self.booted.summary(booted=True))
        if self.rollback:
            out.append(self.rollback.summary())
        return out


def split_image(image: str) -> tuple[str, str, str]:
    """Return (registry, repository, tag) of a registry image reference, as containers/image normalises it.

    The first component is a registry when it has a dot or a port or is ``localhost``; otherwise the image is on
    docker.io (``library/`` for single names). A reference by digest (``@sha256:...``) follows no tag: tag "".
    """
    name, _, digest = image.partition("@")
    if digest and not DIGEST_RE.fullmatch(digest):
        raise ValueError(f"'{image}' has a malformed digest")
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", name
        if "/" not in path:
            path = f"library/{path}"
    last = path.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        path, _, tag = path.rpartition(":")
        if not TAG_RE.fullmatch(tag):
            raise ValueError(f"'{image}' has a malformed tag")
    if digest:
        tag = ""
    if not path or any(not part for part in path.split("/")) or path != path.lower():
        raise ValueError(f"'{image}' is not a valid image reference (repository names are lowercase)")
    return registry, path, tag


def _signature(value: Any, where: str) -> str:
    if value is None:
        return Signature.UNVERIFIED
    if value == "insecure":
        return Signature.INSECURE
    if value == "containerPolicy":
        return Signature.CONTAINER_POLICY
    if isinstance(value, dict) and set(value) == {"ostreeRemote"} and isinstance(value["ostreeRemote"], str):
        return Signature.OSTREE_REMOTE
    raise StatusError(f"{where}: 'signature' must be insecure, containerPolicy, {{ostreeRemote: NAME}} or null")


# rpm-ostree's container image references (ostree-ext's OstreeImageReference): the signature policy, then the image
# with its containers-image transport. ``ostree-remote-*`` name an ostree remote whose keys verify.
OSTREE_IMAGE_PREFIXES = {
    "ostree-unverified-registry:": Signature.UNVERIFIED,
    "ostree-unverified-image:": Signature.UNVERIFIED,
    "ostree-image-signed:": Signature.CONTAINER_POLICY,
    "ostree-remote-registry:": Signature.OSTREE_REMOTE,
    "ostree-remote-image:": Signature.OSTREE_REMOTE,
}


def parse_ostree_image_reference(text: str) -> ImageRef | None:
    """Return rpm-ostree's ``container-image-reference`` split, or None when it is not in a form the portal reads.

    ``ostree-unverified-registry:IMAGE`` and ``ostree-remote-registry:REMOTE:IMAGE`` name a registry image;
    ``ostree-unverified-image:``, ``ostree-image-signed:`` and ``ostree-remote-image:REMOTE:`` are followed by a
    transport (``docker://IMAGE`` or ``registry:IMAGE`` for a registry; ``oci:``, ``containers-storage:``... else).
    """
    prefix = next((p for p in OSTREE_IMAGE_PREFIXES if text.startswith(p)), None)
    if prefix is None:
        return None
    rest = text[len(prefix) :]
    if prefix.startswith("ostree-remote-"):
        _remote, sep, rest = rest.partition(":")
        if not sep:
            return None
    if prefix.endswith("-registry:"):
        transport, image = "registry", rest
    elif rest.startswith("docker://"):
        transport, image = "registry", rest[len("docker://") :]
    else:
        transport, sep, image = rest.partition(":")
        if not sep or not transport or not image:
            return None
    registry = repository = tag = ""
    if transport == "registry":
        try:
            registry, repository, tag = split_image(image)
        except ValueError:
            return None
    return ImageRef(
        image=image,
        transport=transport,
        registry=registry,
        repository=repository,
        tag=tag,
        signature=OSTREE_IMAGE_PREFIXES[prefix],
    )


def _image_ref(value: Any, where: str) -> ImageRef:
    if not isinstance(value, dict):
        raise StatusError(f"{where} must be an object with 'image' and 'transport'")
    image = _text(value, "image", where, MAX_IMAGE_LENGTH)
    transport = _text(value, "transport", where, 50)
    if not image or not transport:
        raise StatusError(f"{where}: 'image' and 'transport' are required")
    registry = repository = tag = ""
    if transport == "registry":
        try:
            registry, repository, tag = split_image(image)
        except ValueError as exc:
            raise StatusError(f"{where}: {exc}") from None
    return ImageRef(
        image=image,
        transport=transport,
        registry=registry,
        repository=repository,
        tag=tag,
        signature=_signature(value.get("signature"), where),
    )


def _digest(value: Any, where: str, key: str = "imageDigest") -> str:
    if not isinstance(value, str) or not DIGEST_RE.fullmatch(value):
        raise StatusError(f"{where}: '{key}' must be sha256: and 64 hexadecimal characters")
    return value[len("sha256:") :].lower()


def _rfc3339(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise StatusError(f"{where}: 'timestamp' must be an RFC 3339 date or null")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise StatusError(f"{where}: 'timestamp' must be an RFC 3339 date or null") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _image_status(value: Any, where: str) -> tuple[ImageRef, str, str, datetime | None, str]:
    if not isinstance(value, dict):
        raise StatusError(f"{where} must be an object")
    return (
        _image_ref(value.get("image"), f"{where}.image"),
        _digest(value.get("imageDigest"), where),
        _text(value, "version", where, MAX_VERSION_LENGTH),
        _rfc3339(value.get("timestamp"), where),
        _text(value, "architecture", where, 50),
    )


def parse_boot_entry(value: Any, where: str) -> BootEntry | None:
    """Return one boot entry, None for null or an entry without an image (not from a container image)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise StatusError(f"{where} must be an object or null")
    if value.get("image") is None:
        return None
    image, digest, version, timestamp, architecture = _image_status(value["image"], f"{where}.image")
    cached = value.get("cachedUpdate")
    cached_digest = _image_status(cached, f"{where}.cachedUpdate")[1] if cached is not None else ""
    ostree = value.get("ostree")
    if ostree is not None and not isinstance(ostree, dict):
        raise StatusError(f"{where}.ostree must be an object or null")
    return BootEntry(
        image=image,
        digest=digest,
        version=version,
        timestamp=timestamp,
        architecture=architecture,
        pinned=_flag(value, "pinned", where),
        incompatible=_flag(value, "incompatible", where),
        ostree_checksum=_checksum(ostree, "checksum", f"{where}.ostree", required=False) if ostree else "",
        cached_update_digest=cached_digest,
    )


def parse_bootc_status(doc: Any) -> BootcStatus:
    """Return the parsed ``bootc status --json`` document, or raise StatusError saying what is wrong."""
    if not isinstance(doc, dict) or doc.get("kind") != "BootcHost":
        raise StatusError("'bootc' must be the BootcHost object bootc status --json prints")
    if doc.get("apiVersion") not in BOOTC_API_VERSIONS:
        raise StatusError(f"'bootc.apiVersion' must be one of {', '.join(sorted(BOOTC_API_VERSIONS))}")
    spec = {} if doc.get("spec") is None else doc["spec"]
    status = {} if doc.get("status") is None else doc["status"]
    if not isinstance(spec, dict) or not isinstance(status, dict):
        raise StatusError("'bootc.spec' and 'bootc.status' must be objects")
    others = [] if status.get("otherDeployments") is None else status["otherDeployments"]
    if not isinstance(others, list) or len(others) > MAX_DEPLOYMENTS:
        raise StatusError(f"'bootc.status.otherDeployments' must be a list of at most {MAX_DEPLOYMENTS} entries")
    spec_image = spec.get("image")
    return BootcStatus(
        spec_image=_image_ref(spec_image, "bootc.spec.image") if spec_image is not None else None,
        booted=parse_boot_entry(status.get("booted"), "bootc.status.booted"),
        staged=parse_boot_entry(status.get("staged"), "bootc.status.staged"),
        rollback=parse_boot_entry(status.get("rollback"), "bootc.status.rollback"),
        rollback_queued=_flag(status, "rollbackQueued", "bootc.status"),
        raw=doc,
    )
