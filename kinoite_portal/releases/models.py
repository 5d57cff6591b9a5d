"""Stages, treefiles, composes, commits, ref history, promotions and approvals."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import Exact


class SigningKey(models.Model):
    """A GPG key that signs commits and summaries. The private key lives only in ``gnupg_home`` on the repo host."""

    name = models.CharField(max_length=100, unique=True)
    fingerprint = models.CharField(max_length=40, unique=True)
    public_key = models.TextField(help_text="ASCII-armored public key that clients import.")
    gnupg_home = models.CharField(max_length=500, help_text="GnuPG home on the repo host that holds the secret key.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # A key is only ever made by generating or importing one; a record without the key cannot sign.
            models.CheckConstraint(
                condition=Q(Exact(Length("fingerprint"), 40)) & ~Q(public_key="") & ~Q(gnupg_home=""),
                name="signing_key_is_complete",
                violation_error_message="A signing key needs its fingerprint, public key and GnuPG home: generate or "
                "import one from the stage's page.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.fingerprint[-16:]})"


def image_source(*, kind: str, registry: str, repository: str) -> str:
    """Return ``registry/repository`` for a stage of kind OCI, else "" (for rows read with ``values_list``)."""
    return f"{registry}/{repository}" if kind == Stage.Kind.OCI else ""


class Stage(models.Model):
    """An ordered lifecycle step that owns one repo: dev (0), then prod (1); more may be added.

    A stage is either an OSTree repo (commits by checksum, refs) or a repository in an OCI registry (images by digest,
    tags); approvals, audit and rollouts treat both alike: an image is a Commit whose checksum is its digest's hex and
    a tag is a Ref.
    """

    class Kind(models.TextChoices):
        OSTREE = "ostree", "OSTree repo"
        OCI = "oci", "OCI image repository"

    name = models.SlugField(max_length=50, unique=True)
    order = models.PositiveIntegerField(unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.OSTREE)
    repo_path = models.CharField(
        max_length=500, blank=True, help_text="For an OSTree stage: absolute, or relative to PORTAL_REPO_ROOT."
    )
    image_registry = models.CharField(
        max_length=255, blank=True, help_text="For an OCI stage: the registry's host[:port], e.g. registry.example.com."
    )
    image_repository = models.CharField(
        max_length=255, blank=True, help_text="For an OCI stage: the repository in the registry, e.g. prod/kinoite."
    )
    registry_tls_verify = models.BooleanField(
        default=True, help_text="For an OCI stage: refuse a registry whose TLS certificate does not verify."
    )
    public_url = models.URLField(blank=True, help_text="The URL clients use as their ostree remote.")
    signing_key = models.ForeignKey(SigningKey, null=True, blank=True, on_delete=models.PROTECT)
    # Approval policy for promotions INTO this stage (DESIGN.md section 6).
    required_approvals = models.PositiveIntegerField(default=1)
    min_days_in_previous_stage = models.PositiveIntegerField(default=7)
    expedite_extra_approvals = models.PositiveIntegerField(default=1)
    rollback_required_approvals = models.PositiveIntegerField(default=1)
    # Retention: how many commits each ref keeps (prune --refs-only --depth); empty keeps everything.
    retention_depth = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["order"]

    def __str__(self) -> str:
        return self.name

    @property
    def repo_dir(self) -> Path:
        path = Path(self.repo_path)
        return path if path.is_absolute() else Path(settings.PORTAL_REPO_ROOT) / path

    @property
    def image_source(self) -> str:
        """Return ``registry/repository`` for an OCI stage (what its desktops' image references start with), else ""."""
        return image_source(kind=self.kind, registry=self.image_registry, repository=self.image_repository)

    def next_stage(self) -> Stage | None:
        return Stage.objects.filter(order__gt=self.order).order_by("order").first()

    def previous_stage(self) -> Stage | None:
        return Stage.objects.filter(order__lt=self.order).order_by("-order").first()


class Treefile(models.Model):
    """A named rpm-ostree treefile. Its ``ref`` key is the dev ref; later stages publish under ``published_ref``."""

    class Kind(models.TextChoices):
        TREEFILE = "treefile", "rpm-ostree treefile"
        CONTAINERFILE = "containerfile", "Containerfile (bootc image)"

    name = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.TREEFILE)
    content = models.JSONField(help_text="The rpm-ostree treefile, as JSON.")
    published_ref = models.CharField(
        max_length=255, help_text="The ref later stages publish the image under, e.g. fedora/x86_64/kinoite/stable."
    )
    schedule = models.CharField(max_length=100, blank=True, help_text="Cron expression for automatic composes.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def ref(self) -> str:
        """Return the dev ref composes move: the treefile's ``ref``, or a Containerfile's ``tag``."""
        key = "tag" if self.kind == self.Kind.CONTAINERFILE else "ref"
        return str(self.content.get(key, ""))

    @property
    def is_containerfile(self) -> bool:
        return self.kind == self.Kind.CONTAINERFILE

    @property
    def stage_kind(self) -> str:
        """Return the kind of stage this builds into: OCI for a Containerfile, ostree for an rpm-ostree treefile."""
        return Stage.Kind.OCI if self.is_containerfile else Stage.Kind.OSTREE


class TreefileRevision(models.Model):
    """One saved version of a treefile; composes name the revision they built."""

    treefile = models.ForeignKey(Treefile, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    content = models.JSONField()
    published_ref = models.CharField(max_length=255)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    comment = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["treefile", "-number"]
        constraints = [models.UniqueConstraint(fields=["treefile", "number"], name="unique_revision_number")]

    def __str__(self) -> str:
        return f"{self.treefile.name} r{self.number}"


# Where an image's rpm database was found, in Commit.metadata ("" when its layers hold none; absent until read).
IMAGE_RPMDB_KEY = "oci.rpmdb"


class Commit(models.Model):
    """An OSTree commit, known by checksum; the same checksum may live in several stages' repos."""

    checksum = models.CharField(max_length=64, unique=True)
    content_checksum = models.CharField(max_length=64, db_index=True, blank=True)
    parent_checksum = models.CharField(max_length=64, blank=True)
    version = models.CharField(max_length=100, blank=True, db_index=True)
    timestamp = models.DateTimeField(db_index=True)
    subject = models.CharField(max_length=500, blank=True)
    body = models.TextField(blank=True)
    input_hash = models.CharField(max_length=128, blank=True)
    ref_binding = models.JSONField(null=True, blank=True)
    packages = models.JSONField(default=list, blank=True, help_text="[[name, epoch, version, release, arch], ...]")
    package_count = models.PositiveIntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True)
    restores = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="restored_by",
        help_text="For a rollback commit: the earlier commit whose tree it re-publishes.",
    )
    recommit_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="recommits",
        help_text="For a commit re-made under another ref binding: the tested commit with the same tree.",
    )
    imported_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-timestamp", "-id"]

    def __str__(self) -> str:
        return f"{self.version or '(no version)'} {self.checksum[:10]}"

    @property
    def is_image(self) -> bool:
        """Return True for an OCI image: its digest names its content, so both checksums are the digest."""
        return bool(self.checksum) and self.content_checksum == self.checksum

    @property
    def package_database(self) -> str | None:
        """Return where an image's rpm database was read ("" when it carries none; None when not read)."""
        value = (self.metadata or {}).get(IMAGE_RPMDB_KEY)
        return value if isinstance(value, str) else None

    @property
    def carries_no_package_database(self) -> bool:
        """Return True for an image whose layers were read and hold no rpm database."""
        return self.is_image and self.package_database == ""


class Ref(models.Model):
    """A ref in one stage's repo and the commit it points at now (the head of its RefUpdate history)."""

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="refs")
    name = models.CharField(max_length=255)
    head = models.ForeignKey(Commit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["stage__order", "name"]
        constraints = [models.UniqueConstraint(fields=["stage", "name"], name="unique_ref_per_stage")]

    def __str__(self) -> str:
        return f"{self.stage.name}:{self.name}"


class Compose(models.Model):
    """One run of a treefile revision into the dev repo."""

    class State(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        UNCHANGED = "unchanged"
        FAILED = "failed"
        CANCELLED = "cancelled"

    FINISHED_STATES = (State.SUCCEEDED, State.UNCHANGED, State.FAILED, State.CANCELLED)

    treefile = models.ForeignKey(Treefile, on_delete=models.PROTECT, related_name="composes")
    revision = models.ForeignKey(TreefileRevision, on_delete=models.PROTECT, related_name="composes")
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="composes")
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED, db_index=True)
    backend = models.CharField(max_length=32)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    trigger = models.CharField(max_length=32, default="manual", help_text="manual, schedule, api or command.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    failure_reason = models.CharField(max_length=500, blank=True)
    log = models.TextField(blank=True)
    input_hash = models.CharField(max_length=128, blank=True)
    commit = models.ForeignKey(Commit, null=True, blank=True, on_delete=models.PROTECT, related_name="composes")

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("start_compose", "Can start a compose")]

    def __str__(self) -> str:
        return f"Compose #{self.pk} of {self.treefile.name} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in self.FINISHED_STATES

    @property
    def dev_ref(self) -> str:
        """Return the ref (an ostree ref, or an OCI stage's tag) this compose moves, as its revision names it."""
        key = "tag" if self.treefile.kind == Treefile.Kind.CONTAINERFILE else "ref"
        return str(self.revision.content.get(key, ""))

    @property
    def image_name(self) -> str:
        """Return ``registry/repository`` of the OCI stage an image build pushes to, else ""."""
        return self.stage.image_source


class Promotion(models.Model):
    """Moving one commit, by checksum, into a stage under its published ref. A rollback is a promotion too."""

    class Kind(models.TextChoices):
        PROMOTE = "promote"
        ROLLBACK = "rollback"

    class State(models.TextChoices):
        REQUESTED = "requested"
        APPROVED = "approved"
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        REJECTED = "rejected"
        CANCELLED = "cancelled"

    OPEN_STATES = (State.REQUESTED, State.APPROVED, State.QUEUED, State.RUNNING)
    FINISHED_STATES = (State.SUCCEEDED, State.FAILED, State.REJECTED, State.CANCELLED)

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PROMOTE)
    state = models.CharField(max_length=16, choices=State.choices, default=State.REQUESTED, db_index=True)
    treefile = models.ForeignKey(Treefile, null=True, blank=True, on_delete=models.PROTECT, related_name="promotions")
    commit = models.ForeignKey(
        Commit,
        on_delete=models.PROTECT,
        related_name="promotions",
        help_text="The tested commit (for a rollback: the earlier commit whose tree is restored).",
    )
    source_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="promotions_out")
    target_stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="promotions_in")
    target_ref = models.CharField(max_length=255)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="promotions_requested"
    )
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    comment = models.TextField(blank=True)
    expedited = models.BooleanField(default=False)
    expedite_reason = models.TextField(blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    previous_head = models.ForeignKey(Commit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    previous_head_recorded = models.BooleanField(
        default=False, help_text="Set once the run has read the target head (previous_head may then be empty)."
    )
    moved_ref = models.CharField(
        max_length=255,
        blank=True,
        help_text="The ref the run moves, read once at its start: target_ref, or a ring's ref on a stage with rings.",
    )
    bound_refs = models.JSONField(
        default=list, blank=True, help_text="Further refs the published commit is bound to (the stage's other rings)."
    )
    published_commit = models.ForeignKey(
        Commit,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="published_by",
        help_text="What the target ref points at afterwards; differs from commit after a re-commit or a rollback.",
    )
    failure_reason = models.CharField(max_length=500, blank=True)
    log = models.TextField(blank=True)
    policy = models.JSONField(default=dict, blank=True, help_text="The policy outcome when the decision was made.")

    class Meta:
        ordering = ["-requested_at", "-id"]
        permissions = [
            ("request_promotion", "Can request a promotion or rollback"),
            ("approve_promotion", "Can approve or reject a promotion"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} to {self.target_stage.name} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES

    @property
    def waiting_since(self) -> datetime | None:
        """When an approved promotion began waiting for a worker on the repo queue; None when it is not waiting."""
        if self.state not in (self.State.APPROVED, self.State.QUEUED):
            return None
        return self.queued_at or self.approved_at

    @property
    def publish_ref(self) -> str:
        """Return the ref the run moves (once it has read its publish plan), else the target ref."""
        return self.moved_ref or self.target_ref


class Approval(models.Model):
    """One approver's decision on one promotion."""

    class Decision(models.TextChoices):
        APPROVE = "approve"
        REJECT = "reject"

    promotion = models.ForeignKey(Promotion, on_delete=models.CASCADE, related_name="approvals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    decision = models.CharField(max_length=8, choices=Decision.choices)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [models.UniqueConstraint(fields=["promotion", "user"], name="one_vote_per_user")]

    def __str__(self) -> str:
        return f"{self.user} {self.decision}s #{self.promotion_id}"


class RefUpdate(models.Model):
    """History of each ref in each stage: which commit it pointed to from when, and what moved it."""

    class Source(models.TextChoices):
        COMPOSE = "compose"
        PROMOTION = "promotion"
        ROLLBACK = "rollback"
        IMPORT = "import"
        EXTERNAL = "external"
        ROLLOUT = "rollout"

    ref = models.ForeignKey(Ref, on_delete=models.CASCADE, related_name="updates")
    commit = models.ForeignKey(Commit, on_delete=models.PROTECT, related_name="ref_updates")
    previous_commit = models.ForeignKey(Commit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    moved_at = models.DateTimeField(db_index=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    compose = models.ForeignKey(Compose, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    promotion = models.ForeignKey(Promotion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-moved_at", "-id"]
        indexes = [models.Index(fields=["ref", "-moved_at"])]

    def __str__(self) -> str:
        return f"{self.ref} -> {self.commit.checksum[:10]}"


class TreeDiff(models.Model):
    """Package and file changes from one tree to another, counted once by a worker so that no page runs ostree.

    Keyed by content checksums: a re-commit or a rollback publishes the same tree (and the same package list) as the
    commit it copies, so one row serves every commit pair with those two trees.
    """

    old_tree = models.CharField(max_length=64)
    new_tree = models.CharField(max_length=64)
    files_added = models.PositiveIntegerField(default=0)
    files_removed = models.PositiveIntegerField(default=0)
    files_modified = models.PositiveIntegerField(default=0)
    package_changes = models.JSONField(
        default=dict,
        blank=True,
        help_text='{"added": [pkg], "removed": [pkg], "upgraded": [[old, new]], "downgraded": [[old, new]]}; '
        "pkg = [name, epoch, version, release, arch]",
    )
    error = models.CharField(max_length=500, blank=True, help_text="Why the files could not be counted.")
    computed_at = models.DateTimeField(auto_now=True)
    seconds = models.FloatField(default=0, help_text="How long counting took.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["old_tree", "new_tree"], name="one_diff_per_tree_pair")]

    def __str__(self) -> str:
        return f"{self.old_tree[:10]} -> {self.new_tree[:10]}"
