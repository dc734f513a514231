from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from bulkyard.jobs.quota_admin import QuotaUserAdmin
from bulkyard.users.signin import sign_in_unlock


class MaskedToken(TokenProxy):
    """An API token as the admin shows it: its owner and the first characters."""

    class Meta:
        proxy = True
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.key[:4]}… ({self.user})"


class MaskedTokenAdmin(TokenAdmin):
    """API tokens are credentials: staff see who has one, never the key (not
    in the list, the page title, the breadcrumbs or the history)."""

    list_display = ("masked_key", "user", "created")
    fields = ("user",)

    @admin.display(description="key")
    def masked_key(self, token: MaskedToken) -> str:
        return f"{token.key[:4]}…"


admin.site.unregister(TokenProxy)
admin.site.register(MaskedToken, MaskedTokenAdmin)


class SignInUserAdmin(QuotaUserAdmin):
    """Django's user admin, with each user's job quotas (usage and overrides)
    and an action to end users' sign-in lockouts."""

    actions = ["unlock_sign_in"]

    @admin.action(description="Unlock sign-in", permissions=["change"])
    def unlock_sign_in(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        users = list(queryset)
        cleared = sum(sign_in_unlock(user=user) for user in users)
        self.message_user(
            request,
            f"Sign-in unlocked for {len(users)} user(s): {cleared} failed attempt record(s) "
            "cleared.",
            messages.SUCCESS,
        )


admin.site.unregister(User)
admin.site.register(User, SignInUserAdmin)
