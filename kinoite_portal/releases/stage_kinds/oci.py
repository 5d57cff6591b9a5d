"""OCI stages: images by manifest digest in a registry repository, tags, GPG simple signatures in a lookaside store.

A promotion goes by digest, never by tag, in three steps, each safe to repeat:

1. ``skopeo copy --preserve-digests --sign-by KEY --sign-identity PROD:TAG docker://DEV@sha256:D
   docker://PROD@sha256:D``: the exact tested manifest and layers land in prod under their digest only (no tag
   moves), and the signature, made for the tag the image is about to be published under, is written to the stage's
   lookaside store. (skopeo 1.9 copies to a digest reference and signs for another identity; a digest-addressed
   staging tag is not needed.)
2. The signature is checked as a client's policy would check it (``skopeo standalone-verify`` over the manifest the
   registry now serves).
3. The tag moves: a manifest-only copy ``PROD@sha256:D -> PROD:TAG``, with no lookaside store configured so the
   signatures are neither read nor rewritten.

A client following ``PROD:TAG`` therefore never sees the tag on an image without a signature for that tag. A
rollback re-tags an earlier approved digest that prod still holds, signing it in place for the tag first unless a
signature by the stage's current key for that tag is already there (a simple signature names its tag, so a digest
once published under another tag, or signed by an earlier key, gets a new one); ``bootc upgrade`` follows the tag,
so desktops take the rollback like any update. A worker killed anywhere leaves the tag on the old or the new digest;
the next attempt skips what is done.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from kinoite_portal.oci.registry import (
    ImageNotFound,
    ImageRepo,
    RegistryError,
    Skopeo,
    validate_digest,
    validate_tag,
)
from kinoite_portal.ostree import LogSink, OstreeError
from kinoite_portal.releases.errors import PromotionConflict, PromotionError, PublishRefused
from kinoite_portal.releases.models import Commit, Promotion, RefUpdate, SigningKey, Stage
from kinoite_portal.releases.publishing import publish_plan
from kinoite_portal.releases.selectors import COMMIT_HEAVY_FIELDS
from kinoite_portal.releases.services.commits import ref_move
from kinoite_portal.releases.services.images import image_commit
from kinoite_portal.releases.services.stages import stage_image_repo, stage_skopeo
from kinoite_portal.releases.stage_kinds.base import signing_key_check


class OciKind:
    """A repository in an OCI registry: candidates are images (checksum = digest hex), refs are tags."""

    def require(self, stage: Stage) -> None:
        stage_image_repo(stage)

    def candidate(self, *, stage: Stage, checksum: str) -> Commit:
        repo = stage_image_repo(stage)
        try:
            with _registry_errors(stage):
                info = stage_skopeo(stage).inspect(repo, digest=validate_digest(checksum))
        except ImageNotFound:
            raise PromotionError(
                f"Image sha256:{checksum} is not in the {stage.name} repository {repo.name}; nothing was requested."
            ) from None
        # A request may come from a web page: a worker reads the package list of an image seen here first.
        return image_commit(info=info, name=repo.name, stage=stage)

    def holds(self, *, stage: Stage, checksum: str) -> bool:
        with _registry_errors(stage):
            return stage_skopeo(stage).has_image(stage_image_repo(stage), checksum)

    def request_check(self, *, stage: Stage, ref: str, commit: Commit) -> None:
        repo = stage_image_repo(stage)
        skopeo = stage_skopeo(stage)
        plan = publish_plan(stage=stage, ref=ref, kind=Promotion.Kind.PROMOTE)
        try:
            # On a stage with rings the run moves the first ring's tag; the rollout moves the others later.
            tag = validate_tag(plan.move_ref)
            for later in plan.bind_refs:
                validate_tag(later)
        except RegistryError as exc:  # the treefile's published ref is no tag a registry accepts
            raise PromotionError(f"{ref!r} cannot be a tag of {stage.name}: {exc}") from None
        with _registry_errors(stage):
            # Before the first rollout reached it, the first ring's tag is missing: the stage tag is what is newest.
            head_info = skopeo.find(repo, tag) or (skopeo.find(repo, validate_tag(ref)) if tag != ref else None)
        if head_info is None:
            return
        if head_info.digest == f"sha256:{commit.checksum}":
            raise PromotionConflict(f"{stage.name} already publishes this image as {tag} ({commit.checksum[:10]}).")
        if head_info.created is not None and commit.timestamp < head_info.created:
            raise PromotionError(
                f"Image {commit.checksum[:10]} ({commit.version}, {commit.timestamp:%Y-%m-%d %H:%M}) is older than "
                f"{stage.name}:{tag} ({head_info.version}, {head_info.created:%Y-%m-%d %H:%M}). To go back, request "
                "a rollback instead."
            )

    def publish(self, *, promotion: Promotion, log: LogSink) -> tuple[str, bool]:
        target_stage = promotion.target_stage
        target = stage_image_repo(target_stage)
        source = stage_image_repo(promotion.source_stage)
        skopeo = stage_skopeo(target_stage, log=log)
        key = signing_key_check(target_stage, log)
        digest = validate_digest(promotion.commit.checksum)
        first_attempt = not promotion.previous_head_recorded
        head = _record_previous_head(promotion, skopeo, target, log) if first_attempt else None
        # Only once the plan is recorded: on a stage with rings it moves the first ring's tag, not the target ref.
        tag = validate_tag(promotion.publish_ref)
        current = head if first_attempt else skopeo.resolve(target, tag)
        previous = f"sha256:{promotion.previous_head.checksum}" if promotion.previous_head else None
        if current == digest:
            # The tag moves last, after the signature: an earlier attempt finished every step.
            log.write(f"# {target.name}:{tag} already points at {digest}: an earlier attempt published it")
            return promotion.commit.checksum, False
        if current != previous:
            raise PublishRefused(
                f"{target.name}:{tag} moved to {str(current)[:19]} while this promotion ran (expected "
                f"{str(previous)[:19]}); something else writes this repository. Nothing more was changed."
            )
        rollback = promotion.kind == Promotion.Kind.ROLLBACK
        origin = target if rollback else source
        try:
            # The manifest's bytes: proof the image is there, and what the signature is checked against later
            # (--preserve-digests copies these very bytes).
            manifest = skopeo.raw_manifest(origin, digest)
        except ImageNotFound:
            where = f"the {target_stage.name}" if rollback else f"the {promotion.source_stage.name}"
            raise PublishRefused(
                f"Image {digest} is no longer in {where} repository {origin.name}; nothing was moved."
            ) from None
        log.write(f"# {digest}: version {promotion.commit.version or '(none)'}")
        _copy_and_sign(skopeo, origin, target, digest, tag, key, log, manifest=manifest)
        skopeo.tag(target, digest, tag)
        log.write(f"# {target.name}:{tag} -> {digest}")
        return promotion.commit.checksum, False

    def record_published(self, *, promotion: Promotion, checksum: str, recommit: bool) -> Commit:
        published = Commit.objects.defer(*COMMIT_HEAVY_FIELDS).get(checksum=checksum)
        rollback = promotion.kind == Promotion.Kind.ROLLBACK
        ref_move(
            stage=promotion.target_stage,
            ref_name=promotion.publish_ref,
            commit=published,
            source=RefUpdate.Source.ROLLBACK if rollback else RefUpdate.Source.PROMOTION,
            promotion=promotion,
        )
        return published

    def after_publish(self, *, promotion: Promotion) -> None:
        # Nothing follows: a registry has no summary or static deltas, and the signature is already in place.
        return None

    def ring_move_refusal(self, *, promotion: Promotion, commit: Commit, refs: list[str]) -> str | None:
        # Images carry no ref binding: the guard is that a ring tag only ever gets the digest its rollout's
        # promotion (or rollback) was approved for and published, never another image of the repository.
        published = promotion.published_commit_id == commit.pk and promotion.commit_id == commit.pk
        if promotion.state != Promotion.State.SUCCEEDED or not published:
            what = "rollback" if promotion.kind == Promotion.Kind.ROLLBACK else "promotion"
            return (
                f"Image {commit.checksum[:10]} is not the image {what} #{promotion.pk} was approved for and "
                "published; no ring tag moves to it. Nothing was moved."
            )
        invalid = []
        for ref in refs:
            try:
                validate_tag(ref)
            except RegistryError:
                invalid.append(ref)
        if invalid:
            return f"{', '.join(invalid)} cannot be a registry tag; nothing was moved."
        return None

    def move_ring_refs(self, *, stage: Stage, refs: list[str], checksum: str, log: LogSink) -> dict[str, str | None]:
        # Per tag, as a promotion does it: the digest is signed for that tag (a simple signature names its tag),
        # the signature verified, then the tag moves. The image is in prod already (the promotion copied it there).
        repo = stage_image_repo(stage)
        skopeo = stage_skopeo(stage, log=log)
        key = signing_key_check(stage, log)
        digest = validate_digest(checksum)
        previous: dict[str, str | None] = {}
        manifest: bytes | None = None
        for ref in refs:
            tag = validate_tag(ref)
            head = skopeo.resolve(repo, tag)
            previous[ref] = head.split(":", 1)[1] if head else None
            if head == digest:
                log.write(f"# {repo.name}:{tag} already points at {digest}")
                continue
            if manifest is None:
                try:
                    manifest = skopeo.raw_manifest(repo, digest)
                except ImageNotFound:
                    raise PublishRefused(
                        f"Image {digest} is no longer in the {stage.name} repository {repo.name}; nothing was moved."
                    ) from None
            _copy_and_sign(skopeo, repo, repo, digest, tag, key, log, manifest=manifest)
            skopeo.tag(repo, digest, tag)
            log.write(f"# {repo.name}:{tag} -> {digest}")
        return previous

    def after_ring_move(self, *, stage: Stage, ref: str, sources: list[str], checksum: str) -> None:
        # A registry has no deltas to make: clients fetch the layers they lack.
        return None

    def resign(self, *, stage: Stage, key: SigningKey) -> tuple[list[str], list[str], list[str]]:
        # Each tag's image is signed in place for that tag (a simple signature names it), unless the key already did.
        repo = stage_image_repo(stage)
        skopeo = stage_skopeo(stage)
        heads: list[str] = []
        signed: list[str] = []
        for tag in skopeo.tags(repo):
            digest = skopeo.resolve(repo, tag)
            if digest is None:
                continue
            heads.append(f"{tag}@{digest}")
            if skopeo.signed_for(repo, digest, tag, fingerprint=key.fingerprint, gnupg_home=key.gnupg_home):
                continue
            skopeo.copy_signed(repo, digest, repo, sign_tag=tag, fingerprint=key.fingerprint, gnupg_home=key.gnupg_home)
            signed.append(f"{tag}@{digest}")
        return heads, signed, []


@contextmanager
def _registry_errors(stage: Stage) -> Iterator[None]:
    """Turn a registry that cannot be read while a request is made into a refusal that names it (nothing done)."""
    try:
        yield
    except ImageNotFound:
        raise
    except OstreeError as exc:
        raise PromotionError(f"The {stage.name} registry could not be read ({exc}); nothing was requested.") from None


def _record_previous_head(promotion: Promotion, skopeo: Skopeo, target: ImageRepo, log: LogSink) -> str | None:
    """Read once, before anything moves: a re-run compares with the head the first attempt saw; return it."""
    plan = publish_plan(stage=promotion.target_stage, ref=promotion.target_ref, kind=promotion.kind)
    promotion.moved_ref = plan.move_ref
    # Images carry no binding: bound_refs names the ring tags (and the plain tag) the rollout moves later, each
    # signed for itself then; this run signs and moves only the first ring's tag (or the plain tag without rings).
    promotion.bound_refs = list(plan.bind_refs)
    head_info = skopeo.find(target, validate_tag(promotion.publish_ref))
    head = head_info.digest if head_info else None
    known = Commit.objects.defer(*COMMIT_HEAVY_FIELDS).filter(checksum=head_info.hex).first() if head_info else None
    if head_info is not None and known is None:
        known = image_commit(info=head_info, name=target.name, stage=promotion.target_stage)
    promotion.previous_head = known
    promotion.previous_head_recorded = True
    promotion.save(update_fields=["moved_ref", "bound_refs", "previous_head", "previous_head_recorded"])
    log.write(f"# previous head of {target.name}:{promotion.publish_ref}: {head or '(none)'}")
    return head


def _copy_and_sign(
    skopeo: Skopeo,
    origin: ImageRepo,
    target: ImageRepo,
    digest: str,
    tag: str,
    key: tuple[str, str] | None,
    log: LogSink,
    *,
    manifest: bytes,
) -> None:
    """Put ``digest`` in ``target`` by digest, signed for ``target:tag`` when the stage signs; skip what is done."""
    if key is None:
        if origin == target:  # a ring move of an unsigned stage: the image is there, nothing to sign
            return
        if skopeo.has_image(target, digest):
            log.write(f"# {target.name} already holds {digest}")
            return
        skopeo.copy_signed(origin, digest, target, sign_tag=None)
        return
    fingerprint, home = key
    # The store is read first: with no signature of the digest there, the registry need not be asked.
    if (
        skopeo.signature_paths(target, digest)
        and skopeo.has_image(target, digest)
        and skopeo.signed_for(target, digest, tag, fingerprint=fingerprint, gnupg_home=home, manifest=manifest)
    ):
        log.write(f"# {target.name}@{digest} is already signed for {tag} by {fingerprint[-16:]}")
        return
    skopeo.copy_signed(origin, digest, target, sign_tag=tag, fingerprint=fingerprint, gnupg_home=home)
    if not skopeo.signed_for(target, digest, tag, fingerprint=fingerprint, gnupg_home=home, manifest=manifest):
        raise PublishRefused(
            f"skopeo copied {digest} but no signature for {target.name}:{tag} by {fingerprint[-16:]} verifies in the "
            "lookaside store; the tag was not moved."
        )
