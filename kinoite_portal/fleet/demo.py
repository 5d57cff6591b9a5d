"""Demo departments; the department head runs Finance."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from kinoite_portal.fleet.models import Department

DEMO_DEPARTMENTS = [("Engineering", "engineering"), ("Finance", "finance"), ("Sales", "sales")]


def seed_departments() -> list[Department]:
    """Create the demo departments and make the demo head the head of Finance."""
    departments = [
        Department.objects.get_or_create(slug=slug, defaults={"name": name})[0] for name, slug in DEMO_DEPARTMENTS
    ]
    head = User.objects.filter(username="head").first()
    if head is not None:
        Department.objects.get(slug="finance").heads.add(head)
    return departments


DEMO_PROD_REF = "fedora/x86_64/kinoite/stable"
DEMO_HOSTS_PER_DEPARTMENT = {"engineering": 16, "finance": 14, "sales": 10}
# What share of each department does what, in order: (kind, how many of every 20 hosts).
DEMO_MIX = [
    ("current", 9),
    ("older", 3),
    ("staged", 2),
    ("layered", 2),
    ("container", 1),
    ("silent", 1),
    ("unknown", 1),
    ("fedora", 1),
]


def _demo_commits() -> tuple[str, tuple[str, str], list[tuple[str, str]]]:
    """Return the prod ref, its head (checksum, version) and older prod commits, from the database when it has them."""
    from kinoite_portal.releases.models import Ref, RefUpdate

    # Prod's ref when something was promoted; else the newest stage's (the demo's composes land in dev).
    ref = Ref.objects.filter(head__isnull=False).select_related("head", "stage").order_by("-stage__order").first()
    if ref is None or ref.head is None:
        fake = [(hashlib.sha256(f"demo-{v}".encode()).hexdigest(), v) for v in ("41.20261125.0", "41.20261115.0")]
        return DEMO_PROD_REF, fake[0], fake[1:]
    older = [
        (u.commit.checksum, u.commit.version)
        for u in RefUpdate.objects.filter(ref=ref)
        .exclude(commit=ref.head)
        .select_related("commit")
        .order_by("-moved_at")
    ]
    return ref.name, (ref.head.checksum, ref.head.version), list(dict.fromkeys(older))


def _deployment(checksum: str, version: str, origin: str, **extra: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "id": f"fedora-{checksum}.0",
        "osname": "fedora",
        "checksum": checksum,
        "version": version,
        "timestamp": 1764028800,
        "booted": False,
        "staged": False,
        "pinned": False,
        "origin": origin,
        "requested-packages": [],
        "packages": [],
    }
    entry.update(extra)
    return entry


def seed_hosts() -> int:
    """Create about 40 demo desktops across the demo departments with realistic statuses; return how many exist."""
    from kinoite_portal.fleet.models import CheckIn, Host
    from kinoite_portal.fleet.services.checkins import checkin_record
    from kinoite_portal.fleet.status_parser import parse_status
    from kinoite_portal.releases.models import Ref

    ref_name, (head_checksum, head_version), older = _demo_commits()
    previous = older[0] if older else (hashlib.sha256(b"demo-previous").hexdigest(), "41.20261101.0")
    stage = Ref.objects.filter(name=ref_name).values_list("stage__name", flat=True).first() or "prod"
    origin = f"portal-{stage}:{ref_name}"
    kinds = [kind for kind, share in DEMO_MIX for _ in range(share)]
    created = 0
    for department in Department.objects.filter(slug__in=DEMO_HOSTS_PER_DEPARTMENT):
        for index in range(DEMO_HOSTS_PER_DEPARTMENT[department.slug]):
            hostname = f"{department.slug[:3]}-{index + 1:03d}"
            machine = hashlib.md5(f"demo-{hostname}".encode()).hexdigest()  # noqa: S324 (a demo machine id)
            if Host.objects.filter(machine_id=machine).exists():
                continue
            kind = kinds[(index * 7 + len(department.slug)) % len(kinds)]
            booted = _deployment(head_checksum, head_version, origin, booted=True)
            deployments = [booted, _deployment(previous[0], previous[1], origin)]
            if kind == "older":
                deployments = [_deployment(previous[0], previous[1], origin, booted=True)]
            elif kind == "staged":
                deployments = [
                    _deployment(head_checksum, head_version, origin, staged=True),
                    _deployment(previous[0], previous[1], origin, booted=True),
                ]
            elif kind == "layered":
                local = hashlib.sha256(f"layer-{hostname}".encode()).hexdigest()
                deployments[0] = _deployment(
                    local,
                    head_version,
                    origin,
                    booted=True,
                    **{
                        "base-checksum": head_checksum,
                        "base-version": head_version,
                        "requested-packages": ["htop", "vim-enhanced"],
                        "packages": ["htop", "vim-enhanced"],
                    },
                )
            elif kind == "container":
                image = "ostree-unverified-registry:quay.io/fedora/fedora-kinoite:41"
                entry = _deployment(hashlib.sha256(b"demo-container").hexdigest(), "41.20261120.0", "", booted=True)
                entry.pop("origin")
                entry["container-image-reference"] = image
                deployments = [entry]
            elif kind == "unknown":
                deployments = [
                    _deployment(hashlib.sha256(b"demo-handmade").hexdigest(), "41.local", origin, booted=True)
                ]
            elif kind == "fedora":
                deployments = [
                    _deployment(
                        hashlib.sha256(b"demo-fedora").hexdigest(),
                        "41.20261118.0",
                        "fedora:fedora/41/x86_64/kinoite",
                        booted=True,
                    )
                ]
            status = {"deployments": deployments, "transaction": None, "cached-update": None, "update-driver": None}
            host = Host.objects.create(hostname=hostname, machine_id=machine, department=department)
            greenboot = "red" if index == 5 else "green"
            for _ in range(3):
                checkin_record(
                    host=host,
                    hostname=hostname,
                    status=parse_status(status),
                    report={"hostname": hostname, "machine_id": machine, "status": status, "greenboot": greenboot},
                    greenboot=greenboot,
                    remote_addr=f"10.20.0.{index + 10}",
                )
            ago = timedelta(days=9) if kind == "silent" else timedelta(minutes=7 * index + 3)
            last = timezone.now() - ago
            Host.objects.filter(pk=host.pk).update(last_checkin_at=last, is_silent=kind == "silent")
            # The history says the same as the host row: the newest report is the last check-in, one an hour before.
            for hours, checkin_id in enumerate(
                CheckIn.objects.filter(host=host).order_by("-received_at", "-id").values_list("id", flat=True)
            ):
                CheckIn.objects.filter(pk=checkin_id).update(received_at=last - timedelta(hours=hours))
            created += 1
    return Host.objects.count()
