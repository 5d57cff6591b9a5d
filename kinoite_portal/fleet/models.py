"""Departments, desktops (hosts), enrollment and check-ins."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from kinoite_portal.fleet.status_parser import Signature


class Department(models.Model):
    """A part of the company whose head sees the rollout of its own desktops."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    heads = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="headed_departments")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EnrollmentToken(models.Model):
    """A secret an installer gives the agent once, to obtain a per-host token for a department."""

    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="enrollment_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    max_uses = models.PositiveIntegerField(default=1)
    uses = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.department} enrollment ({self.prefix}…)"


class Host(models.Model):
    """A desktop that reports its ``rpm-ostree status --json``; fields below are read from its latest report."""

    class Health(models.TextChoices):
        UNKNOWN = "unknown"
        GREEN = "green"
        RED = "red"
        FALLBACK = "fallback"  # greenboot reported "FALLBACK BOOT DETECTED": the boot loader fell back

    hostname = models.CharField(max_length=255, db_index=True)
    machine_id = models.CharField(max_length=64, unique=True)
    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="hosts")
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    token_prefix = models.CharField(max_length=16, blank=True)
    token_revoked_at = models.DateTimeField(null=True, blank=True)
    enrolled_at = models.DateTimeField(auto_now_add=True)
    last_checkin_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # The image each deployment runs: base-checksum for layered hosts, else checksum.
    booted_checksum = models.CharField(max_length=64, blank=True, db_index=True)
    booted_version = models.CharField(max_length=100, blank=True)
    booted_origin = models.CharField(max_length=500, blank=True, help_text="remote:ref, or the container image.")
    booted_remote = models.CharField(max_length=255, blank=True, help_text="The remote of the booted origin.")
    booted_ref = models.CharField(max_length=255, blank=True, db_index=True, help_text="The ref the host follows.")
    booted_layered = models.BooleanField(default=False)
    booted_is_container = models.BooleanField(default=False)
    image_signature = models.CharField(
        max_length=20,
        blank=True,
        help_text="For a bootc host, how it verifies the image it follows: insecure, unverified (no signature "
        "required), container-policy or ostree-remote; empty for an ostree host.",
    )
    staged_checksum = models.CharField(max_length=64, blank=True)
    staged_version = models.CharField(max_length=100, blank=True)
    rollback_checksum = models.CharField(max_length=64, blank=True)
    rollback_version = models.CharField(max_length=100, blank=True)
    health = models.CharField(max_length=8, choices=Health.choices, default=Health.UNKNOWN)
    booted_default = models.BooleanField(
        default=True,
        help_text="Whether the booted deployment is the default one; false after a fallback boot.",
    )
    is_silent = models.BooleanField(default=False, db_index=True)
    deployments = models.JSONField(
        default=list, blank=True, help_text="A summary of each deployment in the latest report."
    )

    class Meta:
        ordering = ["hostname"]
        permissions = [
            ("view_rollout", "Can view rollout status of the departments they head"),
            ("view_all_departments", "Can view rollout status of every department"),
        ]

    def __str__(self) -> str:
        return self.hostname

    @property
    def accepts_unsigned(self) -> bool:
        """Return whether this bootc host would boot an image that nobody signed (``insecure`` or no policy)."""
        return self.image_signature in Signature.ACCEPTS_UNSIGNED


class CheckIn(models.Model):
    """One raw report from a host; a bounded history is kept per host."""

    host = models.ForeignKey(Host, on_delete=models.CASCADE, related_name="checkins")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    booted_checksum = models.CharField(max_length=64, blank=True)
    booted_version = models.CharField(max_length=100, blank=True)
    report = models.JSONField()

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["host", "-received_at"])]

    def __str__(self) -> str:
        return f"{self.host} at {self.received_at:%Y-%m-%d %H:%M}"


class AdoptionSample(models.Model):
    """How many active hosts of a department, following one ref, booted one image at one hour: the rollout chart.

    Taken hourly from the hosts' latest state rather than read from check-ins: the check-in history keeps only
    ``PORTAL_CHECKIN_HISTORY`` reports per host (about two days of hourly reports, less than one ring rollout),
    and a chart over it would scan every check-in on each page view.
    """

    taken_at = models.DateTimeField(help_text="The hour the sample stands for (its start).")
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="+")
    ref = models.CharField(max_length=255, blank=True, help_text="The ref the hosts follow; empty for other sources.")
    checksum = models.CharField(max_length=64, blank=True, help_text="The image the hosts booted.")
    hosts = models.PositiveIntegerField()

    class Meta:
        ordering = ["taken_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["taken_at", "department", "ref", "checksum"], name="one_sample_per_hour")
        ]
        indexes = [models.Index(fields=["checksum", "taken_at"])]

    def __str__(self) -> str:
        return f"{self.department_id} {self.checksum[:10]} x{self.hosts} at {self.taken_at:%Y-%m-%d %H:00}"
