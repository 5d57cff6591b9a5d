"""Staged rollout rings: a stage's commit reaches the fleet ring by ring, each ring gated by its hosts' health.

A ring follows its own ref in the stage's repo, a sibling of the stage ref (``.../stable-pilot`` beside
``.../stable``): ostree refs cannot nest. The promoted commit binds every ring ref once, so every ring later gets the
same checksum; exposing the commit to a ring is moving that ring's ref. The plain stage ref moves with the last ring.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from kinoite_portal.fleet.models import Department, Host
from kinoite_portal.releases.models import Commit, Promotion, Stage

DEFAULT_SOAK_TIME = timedelta(hours=24)
DEFAULT_UPDATE_TIMEOUT = timedelta(hours=24)
DEFAULT_SUCCESS_THRESHOLD = 90
DEFAULT_FAILURE_THRESHOLD = 5
DEFAULT_RING_NAMES = ("pilot", "early", "broad")


class Ring(models.Model):
    """An ordered group of departments and single hosts of a stage that receives each commit before the next ring.

    A host listed on its own belongs to the first ring that lists it, whatever its department; otherwise to the first
    ring that lists its department; a host in no ring belongs to the stage's last ring.
    """

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="rings")
    name = models.SlugField(
        max_length=50, help_text="Appended to the stage ref: ring 'pilot' follows fedora/x86_64/kinoite/stable-pilot."
    )
    order = models.PositiveIntegerField(help_text="Rings receive a commit in ascending order.")
    departments = models.ManyToManyField(Department, blank=True, related_name="rings")
    hosts = models.ManyToManyField(Host, blank=True, related_name="rings", help_text="Single hosts, e.g. volunteers.")
    soak_time = models.DurationField(
        default=DEFAULT_SOAK_TIME, help_text="Minimum time the commit stays on this ring before the next ring gets it."
    )
    success_threshold = models.PositiveSmallIntegerField(
        default=DEFAULT_SUCCESS_THRESHOLD,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Percent of the ring's active hosts that must have booted the commit healthy to open the gate.",
    )
    failure_threshold = models.PositiveSmallIntegerField(
        default=DEFAULT_FAILURE_THRESHOLD,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Percent of the ring's active hosts failing on the commit that halts the rollout at once.",
    )
    update_timeout = models.DurationField(
        default=DEFAULT_UPDATE_TIMEOUT, help_text="A host without a success report this long after the move timed out."
    )
    auto_advance = models.BooleanField(
        default=True,
        help_text="When this ring's gate opens the next ring moves by itself; unchecked, after an approver's click.",
    )

    class Meta:
        ordering = ["stage__order", "order"]
        constraints = [
            models.UniqueConstraint(fields=["stage", "name"], name="unique_ring_name_per_stage"),
            models.UniqueConstraint(fields=["stage", "order"], name="unique_ring_order_per_stage"),
        ]

    def __str__(self) -> str:
        return f"{self.stage.name}:{self.name}"

    def ref_for(self, stage_ref: str) -> str:
        """Return this ring's ref beside ``stage_ref`` (a sibling: ostree refs cannot nest)."""
        return ring_ref(stage_ref, self.name)


def ring_ref(stage_ref: str, ring_name: str) -> str:
    return f"{stage_ref}-{ring_name}"


class Rollout(models.Model):
    """One commit travelling through a stage's rings, started by the promotion (or rollback) that published it."""

    class State(models.TextChoices):
        RUNNING = "running"
        PAUSED = "paused"
        HALTED = "halted"
        COMPLETED = "completed"
        SUPERSEDED = "superseded"

    ACTIVE_STATES = (State.RUNNING, State.PAUSED, State.HALTED)

    promotion = models.OneToOneField(Promotion, on_delete=models.PROTECT, related_name="rollout")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="rollouts")
    stage_ref = models.CharField(max_length=255, help_text="The plain stage ref; it moves with the last ring.")
    commit = models.ForeignKey(
        Commit, on_delete=models.PROTECT, related_name="rollouts", help_text="The commit bound to every ring ref."
    )
    previous_commit = models.ForeignKey(
        Commit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="What the stage ref pointed at before: hosts back on it after the move count as failed.",
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.RUNNING, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    halted_at = models.DateTimeField(null=True, blank=True)
    halt_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("manage_rollout", "Can pause, resume, advance and halt a rollout")]

    def __str__(self) -> str:
        return f"Rollout #{self.pk} of {self.commit} on {self.stage.name} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES


class RolloutRing(models.Model):
    """A ring's part in one rollout: its gate as it was when the rollout started, and when its ref moved.

    ``move_requested_at`` is set before the worker moves the ref and ``moved_at`` after, so a move interrupted by a
    crash is found and finished by the next gate evaluation.
    """

    class State(models.TextChoices):
        WAITING = "waiting"
        MOVING = "moving"
        MOVED = "moved"

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="rings")
    ring = models.ForeignKey(
        Ring,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rollout_rings",
        help_text="Membership (departments, hosts) is read from the ring; empty once the ring is deleted.",
    )
    name = models.SlugField(max_length=50)
    order = models.PositiveIntegerField()
    ref = models.CharField(max_length=255)
    is_last = models.BooleanField(default=False, help_text="The last ring also moves the plain stage ref.")
    soak_time = models.DurationField()
    success_threshold = models.PositiveSmallIntegerField()
    failure_threshold = models.PositiveSmallIntegerField()
    update_timeout = models.DurationField()
    auto_advance = models.BooleanField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.WAITING)
    move_requested_at = models.DateTimeField(null=True, blank=True)
    moved_at = models.DateTimeField(null=True, blank=True)
    gate_passed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the gate first found the soak over and the success threshold met."
    )
    advanced_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    advance_reason = models.TextField(blank=True, help_text="Why an approver moved this ring before its turn.")
    accepted_failures = models.PositiveIntegerField(
        default=0,
        help_text="Failed hosts an approver accepted by resuming after a halt; only failures beyond them halt again.",
    )

    class Meta:
        ordering = ["rollout", "order"]
        constraints = [models.UniqueConstraint(fields=["rollout", "order"], name="unique_rollout_ring_order")]

    def __str__(self) -> str:
        return f"{self.name} of rollout #{self.rollout_id}"

    @property
    def opens_at(self) -> datetime | None:
        """Return when the soak time is over (the earliest the gate can open), or None before the move."""
        return self.moved_at + self.soak_time if self.moved_at else None

    @property
    def times_out_at(self) -> datetime | None:
        """Return when hosts without a success report count as timed out, or None before the move."""
        return self.moved_at + self.update_timeout if self.moved_at else None


class RolloutEvent(models.Model):
    """The rollout's timeline: ref moves, gate decisions and approvers' actions (the audit trail has them too)."""

    class Kind(models.TextChoices):
        STARTED = "started"
        MOVED = "moved"
        GATE_PASSED = "gate_passed"
        PAUSED = "paused"
        RESUMED = "resumed"
        ADVANCED = "advanced"
        HALTED = "halted"
        COMPLETED = "completed"
        SUPERSEDED = "superseded"
        ROLLED_BACK = "rolled_back"

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="events")
    ring = models.ForeignKey(RolloutRing, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    message = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} in rollout #{self.rollout_id}"
