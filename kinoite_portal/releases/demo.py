"""Demo data for a first run: the seed article's dev and prod repos and its example treefile."""

from __future__ import annotations

import logging

from django.conf import settings

from kinoite_portal.releases.errors import SigningKeyError
from kinoite_portal.releases.models import Stage, Treefile
from kinoite_portal.releases.services.signing import signing_key_generate, stage_resign
from kinoite_portal.releases.services.stages import stage_ensure
from kinoite_portal.releases.services.treefiles import treefile_save

logger = logging.getLogger(__name__)

# The example from "OS Updates on the Corporate Linux Desktop", with the keys rpm-ostree needs for versions.
SEED_TREEFILE = {
    "ref": "fedora/x86_64/kinoite/dev",
    "releasever": "41",
    "automatic-version-prefix": "41.<date:%Y%m%d>",
    "repos": ["fedora", "fedora-updates"],
    "selinux": True,
    "boot-location": "new",
    "tmp-is-dir": True,
    "packages": [
        "fedora-release-kinoite",
        "kernel",
        "systemd",
        "rpm-ostree",
        "plasma-desktop",
        "plasma-workspace",
        "sddm",
        "NetworkManager",
        "firewalld",
        "vim-enhanced",
        "git",
        "htop",
    ],
    "exclude-packages": ["PackageKit"],
    "postprocess": [
        "ln -sf /usr/lib/systemd/system/graphical.target /etc/systemd/system/default.target",
        "systemctl enable sddm.service",
    ],
}


def seed_stages() -> list[Stage]:
    """Create the dev and prod stages and their repos; prod, which desktops pull from, signs from the start."""
    base = settings.PORTAL_PUBLIC_URL.rstrip("/")
    dev = stage_ensure(name="dev", order=0, repo_path="dev", public_url=f"{base}/repo/dev/")
    prod = stage_ensure(name="prod", order=1, repo_path="prod", public_url=f"{base}/repo/prod/")
    for stage in (dev, prod):
        # The demo served from another address last time (run_portal --bind): follow the portal to its new one.
        served_here = f"{base}/repo/{stage.name}/"
        if stage.public_url != served_here and stage.public_url.endswith(f"/repo/{stage.name}/"):
            stage.public_url = served_here
            stage.save(update_fields=["public_url"])
    if prod.signing_key_id is None:
        # In this process and at once: the demo runs before any worker, and an older unsigned demo gets signed too.
        try:
            signing_key_generate(stage=prod, name="Kinoite Portal demo prod signing", queue_resign=False)
        except SigningKeyError as exc:
            # The demo still starts; the dashboard and the client setup page say that prod does not sign.
            logger.warning("The demo's prod stage stays unsigned. %s", exc)
        else:
            stage_resign(stage=prod)
    return [dev, prod]


def seed_treefile() -> Treefile:
    """Create the seed article's treefile, once."""
    existing = Treefile.objects.filter(name="kinoite").first()
    if existing is not None:
        return existing
    return treefile_save(
        name="kinoite",
        content=SEED_TREEFILE,
        published_ref="fedora/x86_64/kinoite/stable",
        description="Fedora Kinoite desktop (the seed article's example)",
        author=None,
        comment="Imported from the seed article",
    )
