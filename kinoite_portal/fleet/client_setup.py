"""The commands the client setup page shows: one verified remote per signing stage, the agent, the public URL.

An OCI stage's desktops are bootc systems: they verify images with containers' own trust policy, so for such a
stage the page gives /etc/containers/policy.json (the stage's key required for its repository, the rest of its
registry refused), a registries.d file naming the portal's lookaside store of signatures, and the
``bootc switch --enforce-container-sigpolicy`` command.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse

from kinoite_portal.oci.registry import lookaside_yaml
from kinoite_portal.releases.models import Stage

DEFAULT_REF = "fedora/x86_64/kinoite/stable"
DEFAULT_TAG = "stable"
# Where the stage's public key lands on a bootc desktop (policy.json names it).
CONTAINERS_KEY_DIR = "/etc/pki/containers"


@dataclass(frozen=True)
class Command:
    id: str
    text: str


@dataclass(frozen=True)
class StageSetup:
    stage: Stage
    remote: str
    url: str
    key_url: str  # empty when the stage does not sign: then only the unverified remote exists
    remote_commands: list[Command]
    rebase_command: Command
    image: str = ""  # REGISTRY/REPOSITORY:TAG for an OCI stage
    other_images: list[str] = field(default_factory=list)


def portal_url() -> str:
    """Return the URL desktops and email readers reach the portal at, without a trailing slash."""
    return str(settings.PORTAL_PUBLIC_URL).rstrip("/")


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def public_url_mismatch(request_url: str) -> str:
    """Return the public URL when the reader reached the portal at another origin, else an empty string."""
    public = portal_url()
    return public if origin(public) != origin(request_url) else ""


def stage_setups(stages: list[Stage]) -> list[StageSetup]:
    """Return, per stage, the exact commands that point a desktop at it (verified when the stage signs)."""
    base = portal_url()
    setups = []
    for stage in stages:
        if stage.kind == Stage.Kind.OCI:
            setups.append(_oci_setup(stage, base))
            continue
        remote = f"portal-{stage.name}"
        url = stage.public_url or f"{base}/repo/{stage.name}/"
        refs = list(stage.refs.values_list("name", flat=True)) or [DEFAULT_REF]
        key_url = ""
        if stage.signing_key_id:
            key_url = base + reverse("releases:stage_public_key", args=[stage.name])
            key_path = f"/etc/pki/rpm-gpg/kinoite-portal-{stage.name}.asc"
            remote_commands = [
                Command(f"key-{stage.name}", f"curl -fsSL -o {key_path} {key_url}"),
                Command(
                    f"remote-{stage.name}",
                    "ostree remote add --if-not-exists --set=gpg-verify=true --set=gpg-verify-summary=true \\\n"
                    f"    --gpg-import={key_path} \\\n"
                    f"    {remote} {url}",
                ),
            ]
        else:
            remote_commands = [
                Command(f"remote-{stage.name}", f"ostree remote add --if-not-exists --no-gpg-verify {remote} {url}")
            ]
        rebase = "".join(f"rpm-ostree rebase {remote}:{ref}\n" for ref in refs) + "systemctl reboot"
        setups.append(
            StageSetup(
                stage=stage,
                remote=remote,
                url=url,
                key_url=key_url,
                remote_commands=remote_commands,
                rebase_command=Command(f"rebase-{stage.name}", rebase),
            )
        )
    return setups


def sigstore_url(stage: Stage) -> str:
    """Return the lookaside URL of an OCI stage: where desktops read the signatures of its images."""
    return f"{portal_url()}/sigstore/{stage.name}"


def oci_key_path(stage: Stage) -> str:
    return f"{CONTAINERS_KEY_DIR}/kinoite-portal-{stage.name}.asc"


def oci_policy(stage: Stage, *, key_path: str | None = None) -> dict[str, Any]:
    """Return the /etc/containers/policy.json that makes a desktop accept only the stage's signed images.

    The stage's repository needs a signature by the stage's key (``signedBy``; a simple signature names the tag, so
    an image re-tagged under another name is refused too); everything else in that registry is refused. Other
    registries keep the default of Fedora's own policy (accepted), so toolbox and other containers still work.
    """
    scope = stage.image_source
    return {
        "default": [{"type": "insecureAcceptAnything"}],
        "transports": {
            "docker": {
                stage.image_registry: [{"type": "reject"}],
                scope: [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": key_path or oci_key_path(stage)}],
            },
            "docker-daemon": {"": [{"type": "insecureAcceptAnything"}]},
        },
    }


def oci_registries_d(stage: Stage) -> str:
    """Return the registries.d file that tells a desktop where the signatures of the stage's images are."""
    scope = stage.image_source
    return lookaside_yaml({scope: sigstore_url(stage)}, staging=False)


def _heredoc(path: str, text: str) -> str:
    return f"cat > {path} <<'EOF'\n{text.rstrip()}\nEOF"


def _oci_setup(stage: Stage, base: str) -> StageSetup:
    tags = list(stage.refs.values_list("name", flat=True)) or [DEFAULT_TAG]
    scope = stage.image_source
    images = [f"{scope}:{tag}" for tag in tags]
    commands = []
    key_url = ""
    if stage.signing_key_id:
        key_url = base + reverse("releases:stage_public_key", args=[stage.name])
        commands += [
            Command(
                f"key-{stage.name}", f"mkdir -p {CONTAINERS_KEY_DIR}\ncurl -fsSL -o {oci_key_path(stage)} {key_url}"
            ),
            Command(
                f"policy-{stage.name}",
                _heredoc("/etc/containers/policy.json", json.dumps(oci_policy(stage), indent=2)),
            ),
            Command(
                f"lookaside-{stage.name}",
                _heredoc(f"/etc/containers/registries.d/kinoite-portal-{stage.name}.yaml", oci_registries_d(stage)),
            ),
        ]
    if not stage.registry_tls_verify:
        commands.append(
            Command(
                f"insecure-{stage.name}",
                _heredoc(
                    f"/etc/containers/registries.conf.d/kinoite-portal-{stage.name}.conf",
                    f'[[registry]]\nlocation = "{stage.image_registry}"\ninsecure = true',
                ),
            )
        )
    enforce = " --enforce-container-sigpolicy" if stage.signing_key_id else ""
    switch = f"bootc switch{enforce} {images[0]}\nsystemctl reboot"
    return StageSetup(
        stage=stage,
        remote="",
        url=scope,
        key_url=key_url,
        remote_commands=commands,
        rebase_command=Command(f"rebase-{stage.name}", switch),
        image=images[0],
        other_images=images[1:],
    )


def agent_commands() -> list[Command]:
    base = portal_url()
    return [
        Command(
            "agent-install",
            f"curl -fsSLO {base}/fleet/agent/install.sh\nsh install.sh --url {base} --enrollment-token kpe_…",
        )
    ]
