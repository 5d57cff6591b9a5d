from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the portal writes itself: visible in the admin, changed only through the portal's services."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Stage)
class StageAdmin(admin.ModelAdmin):
    list_display = ["name", "order", "repo_path", "public_url", "signing_key", "required_approvals"]


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "fingerprint", "created_at"]
    readonly_fields = ["fingerprint", "public_key", "gnupg_home", "created_at"]


@admin.register(Treefile)
class TreefileAdmin(admin.ModelAdmin):
    list_display = ["name", "ref", "published_ref", "schedule", "enabled", "updated_at"]


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
