from django.contrib import admin
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy


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
