from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from kinoite_portal.core.models import ApiToken, AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is append-only, for administrators too."""

    list_display = ["created_at", "actor", "actor_label", "action", "object_type", "object_id", "message"]
    list_filter = ["action", "object_type"]
    search_fields = ["message", "object_id", "actor__username", "actor_label"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "token_hash", "created_at", "last_used_at"]
    list_filter = ["revoked_at"]
