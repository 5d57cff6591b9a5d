"""The commands the client setup page shows: one verified remote per signing stage, the agent, the public URL."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse

from kinoite_portal.releases.models import Stage

DEFAULT_REF = "fedora/x86_64/kinoite/stable"


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


def agent_commands() -> list[Command]:
    base = portal_url()
    return [
        Command(
            "agent-install",
            f"curl -fsSLO {base}/fleet/agent/install.sh\nsh install.sh --url {base} --enrollment-token kpe_…",
        )
    ]
