from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from kinoite_portal.core.admin import ReadOnlyAdmin
from kinoite_portal.releases import signing_admin
from kinoite_portal.releases.errors import SigningKeyError
from kinoite_portal.releases.forms import StageForm, TreefileForm
from kinoite_portal.releases.models import (
    Approval,
    Commit,
    Compose,
    Promotion,
    Ref,
    RefUpdate,
    SigningKey,
    Stage,
    Treefile,
    TreefileRevision,
)
from kinoite_portal.releases.services.signing import stage_signing_key_set
from kinoite_portal.releases.services.treefiles import treefile_save


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    form = StageForm
    list_display = ["name", "order", "kind", "repo_path", "image_registry", "image_repository", "signing_key"]
    # Signing keys: Generate and Import buttons on the stage's page (templates/admin/releases/stage/change_form.html),
    # and generate as a bulk action.
    actions = [signing_admin.generate_signing_key]

    def get_urls(self) -> list[Any]:
        return signing_admin.import_key_urls(self) + super().get_urls()

    def save_model(self, request: HttpRequest, obj: Stage, form: Any, change: bool) -> None:
        # Picking another stored key goes through the service: it checks the key signs, audits and queues re-signing.
        if not change or "signing_key" not in form.changed_data:
            super().save_model(request, obj, form, change)
            return
        chosen = obj.signing_key
        obj.signing_key = Stage.objects.select_related("signing_key").get(pk=obj.pk).signing_key
        super().save_model(request, obj, form, change)
        try:
            stage_signing_key_set(stage=obj, key=chosen, actor=request.user)
        except SigningKeyError as exc:
            self.message_user(request, str(exc), messages.ERROR)


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    """Keys are listed and renamed here; they are made only by Generate or Import on a stage's page."""

    list_display = ["name", "fingerprint", "created_at"]
    readonly_fields = ["fingerprint", "public_key", "gnupg_home", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Treefile)
class TreefileAdmin(admin.ModelAdmin):
    """Every save goes through treefile_save, so it is validated and keeps a revision."""

    form = TreefileForm
    list_display = ["name", "kind", "ref", "published_ref", "schedule", "enabled", "updated_at"]
    readonly_fields = ["revisions_link"]

    @admin.display(description="Revisions")
    def revisions_link(self, obj: Treefile) -> str:
        if obj.pk is None:
            return "-"
        url = reverse("releases:treefile_revisions", args=[obj.name])
        return format_html('<a href="{}">{} revisions, with diffs</a>', url, obj.revisions.count())

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A rename would start a new treefile with no history: the name (and the kind) is fixed once saved.
        return ["name", "kind", "revisions_link"] if obj is not None else ["revisions_link"]

    def save_model(self, request: HttpRequest, obj: Treefile, form: Any, change: bool) -> None:
        data = form.cleaned_data
        saved = treefile_save(
            name=data.get("name") or obj.name,
            content=data["content"],
            published_ref=data["published_ref"],
            description=data.get("description", ""),
            schedule=data.get("schedule", ""),
            enabled=data.get("enabled", True),
            kind=data.get("kind") or None,
            author=request.user,
            comment=data.get("comment", ""),
        )
        obj.pk = saved.pk
        obj.refresh_from_db()


@admin.register(TreefileRevision)
class TreefileRevisionAdmin(ReadOnlyAdmin):
    list_display = ["treefile", "number", "author", "created_at", "comment"]
    list_filter = ["treefile"]


@admin.register(Compose)
class ComposeAdmin(ReadOnlyAdmin):
    list_display = ["id", "treefile", "state", "backend", "created_at", "finished_at"]
    list_filter = ["state", "treefile"]


@admin.register(Commit)
class CommitAdmin(ReadOnlyAdmin):
    list_display = ["version", "checksum", "timestamp", "package_count"]
    search_fields = ["checksum", "version"]


@admin.register(Ref)
class RefAdmin(ReadOnlyAdmin):
    list_display = ["stage", "name", "head", "updated_at"]


@admin.register(RefUpdate)
class RefUpdateAdmin(ReadOnlyAdmin):
    list_display = ["ref", "commit", "previous_commit", "moved_at", "source"]
    list_filter = ["source", "ref__stage"]


@admin.register(Promotion)
class PromotionAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "commit", "target_stage", "state", "requested_by", "requested_at"]
    list_filter = ["state", "kind", "target_stage"]


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    list_display = ["promotion", "user", "decision", "created_at"]
