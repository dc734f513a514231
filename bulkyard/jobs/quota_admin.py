"""Quotas in the user admin (``bulkyard.users.admin`` builds on this): each
user's usage of every quota as sortable columns and on their page, and an
inline to override the defaults for them. A page of users costs one query."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.db.models import Field, QuerySet
from django.forms import Field as FormField
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from bulkyard.core.sizes import human_bytes
from bulkyard.jobs.models import UserQuota
from bulkyard.jobs.quotas import (
    QUOTAS,
    QuotaState,
    annotated_states,
    default_limits,
    users_with_usage,
)

LABELS = {
    "running_jobs": "Running jobs",
    "queued_jobs": "Queued jobs",
    "items_per_day": "Items today",
    "upload_bytes_per_day": "Uploaded today",
}


def _amount(name: str, value: int | None) -> str:
    if value is None:
        return "unlimited"
    return human_bytes(value) if name == "upload_bytes_per_day" else f"{value:,}"


class UserQuotaInline(admin.StackedInline[UserQuota, User]):
    """A user's own limits; an empty field keeps the default, 0 is unlimited."""

    model = UserQuota
    fields = QUOTAS
    max_num = 1
    verbose_name = "quota override"
    verbose_name_plural = "Quota overrides (empty: the default; 0: unlimited)"

    def formfield_for_dbfield(
        self, db_field: Field[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> FormField | None:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and db_field.name in QUOTAS:
            default = _amount(db_field.name, default_limits()[db_field.name])
            field.help_text = f"{db_field.help_text} Empty: the default ({default})."
        return field


def _cell(name: str) -> Any:
    """A list column: the user's usage of quota ``name`` against its limit."""

    @admin.display(description=LABELS[name], ordering=f"usage_{name}")
    def cell(self: QuotaUserAdmin, user: User) -> str:
        state = next(s for s in self._states(user) if s.name == name)
        return f"{_amount(name, state.used)} / {_amount(name, state.limit)}"

    return cell


class QuotaUserAdmin(UserAdmin[User]):
    """Django's user admin with each user's quotas: usage columns, a usage
    table on the user's page, and the override inline."""

    inlines = [UserQuotaInline]
    list_display = (
        "username",
        "email",
        "is_staff",
        *(f"quota_{name}" for name in QUOTAS),
    )
    readonly_fields = ("quota_usage",)
    fieldsets = (*(UserAdmin.fieldsets or ()), ("Quotas", {"fields": ("quota_usage",)}))

    quota_running_jobs = _cell("running_jobs")
    quota_queued_jobs = _cell("queued_jobs")
    quota_items_per_day = _cell("items_per_day")
    quota_upload_bytes_per_day = _cell("upload_bytes_per_day")

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return users_with_usage(super().get_queryset(request), now=timezone.now())

    def _states(self, user: User) -> list[QuotaState]:
        # One list per user and request: the columns share it.
        cached: list[QuotaState] | None = getattr(user, "_quota_states", None)
        if cached is None:
            cached = annotated_states(user, now=timezone.now())
            user._quota_states = cached  # type: ignore[attr-defined]
        return cached

    @admin.display(description="Usage")
    def quota_usage(self, user: User) -> str:
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    LABELS[state.name],
                    _amount(state.name, state.used),
                    _amount(state.name, state.limit),
                    _amount(state.name, state.remaining),
                    state.resets_at.strftime("%Y-%m-%d %H:%M UTC") if state.resets_at else "",
                )
                for state in self._states(user)
            ),
        )
        return format_html(
            "<table><tr><th></th><th>used</th><th>limit</th><th>remaining</th>"
            "<th>resets</th></tr>{}</table>",
            rows,
        )
