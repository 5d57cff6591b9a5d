from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from kinoite_portal.core.api_tokens import api_token_create, api_token_revoke
from kinoite_portal.core.models import ApiToken, AuditEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records the portal writes itself: visible in the admin, changed only through the portal's services."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit trail is append-only, for administrators too."""

    list_display = ["created_at", "actor", "actor_label", "action", "object_type", "object_id", "message"]
    list_filter = ["action", "object_type"]
    search_fields = ["message", "object_id", "actor__username", "actor_label"]
    date_hierarchy = "created_at"


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["user", "name", "expires_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made by the service, which shows the raw token once; afterwards only its prefix is known."""

    form = ApiTokenForm
    list_display = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["user", "name", "expires_at"]
        return ["user", "name", "prefix", "expires_at", "created_at", "last_used_at", "revoked_at"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        created = api_token_create(user=obj.user, name=obj.name, expires_at=obj.expires_at, actor=request.user)
        obj.pk = created.token.pk
        obj.prefix = created.token.prefix
        messages.warning(request, f"API token (shown only now, copy it): {created.raw}")

    @admin.action(description="Revoke the selected API tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = sum(api_token_revoke(token=token, actor=request.user) for token in queryset)
        messages.success(request, f"Revoked {count} API token(s).")
