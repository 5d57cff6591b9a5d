from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from kinoite_portal.fleet.models import CheckIn, Department, EnrollmentToken, Host
from kinoite_portal.fleet.services.enrollment import (
    enrollment_token_create,
    enrollment_token_revoke,
    host_department_move,
    host_token_revoke,
)


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["heads"]


class EnrollmentTokenForm(forms.ModelForm):
    class Meta:
        model = EnrollmentToken
        fields = ["department", "name", "expires_at", "max_uses"]


@admin.register(EnrollmentToken)
class EnrollmentTokenAdmin(admin.ModelAdmin):
    form = EnrollmentTokenForm
    list_display = ["department", "name", "prefix", "expires_at", "uses", "max_uses", "revoked_at"]
    readonly_fields = ["prefix", "uses", "created_by", "created_at", "revoked_at"]
    actions = ["revoke"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["department", "name", "expires_at", "max_uses"]
        return [
            "department",
            "name",
            "prefix",
            "expires_at",
            "max_uses",
            "uses",
            "created_by",
            "created_at",
            "revoked_at",
        ]

    def save_model(self, request: HttpRequest, obj: EnrollmentToken, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = enrollment_token_create(
            department=obj.department,
            name=obj.name,
            expires_at=obj.expires_at,
            max_uses=obj.max_uses,
            created_by=request.user,
        )
        obj.pk = created.token.pk
        obj.prefix = created.token.prefix
        messages.warning(request, f"Enrollment token (shown only now, copy it): {created.raw}")

    @admin.action(description="Revoke the selected enrollment tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[EnrollmentToken]) -> None:
        count = sum(enrollment_token_revoke(token=token, actor=request.user) for token in queryset)
        messages.success(request, f"Revoked {count} enrollment token(s).")


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    list_display = ["hostname", "department", "booted_version", "last_checkin_at", "health", "token_revoked_at"]
    list_filter = ["department", "health", "is_silent", "booted_is_container", "image_signature"]
    search_fields = ["hostname", "machine_id"]
    readonly_fields = [f.name for f in Host._meta.fields if f.name not in {"department", "hostname"}]
    actions = ["revoke_tokens"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # hosts enroll themselves with an enrollment token

    def save_model(self, request: HttpRequest, obj: Host, form: Any, change: bool) -> None:
        if "department" in form.changed_data:
            # The one way a desktop changes department (enrollment tokens of another department cannot move it).
            host_department_move(host=obj, department=obj.department, actor=request.user)
        others = [name for name in form.changed_data if name != "department"]
        if others:
            obj.save(update_fields=others)

    @admin.action(description="Revoke the tokens of the selected hosts")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[Host]) -> None:
        count = sum(host_token_revoke(host=host, actor=request.user) for host in queryset)
        messages.success(request, f"Revoked {count} host token(s). Those hosts must enroll again.")


@admin.register(CheckIn)
class CheckInAdmin(admin.ModelAdmin):
    list_display = ["host", "received_at", "booted_version", "remote_addr"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
