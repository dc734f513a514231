from django.contrib import admin
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy


class MaskedTokenAdmin(TokenAdmin):
    """API tokens are credentials: staff see who has one, never the key."""

    list_display = ("masked_key", "user", "created")
    fields = ("user",)

    @admin.display(description="key")
    def masked_key(self, token: TokenProxy) -> str:
        return f"{token.key[:4]}…"


admin.site.unregister(TokenProxy)
admin.site.register(TokenProxy, MaskedTokenAdmin)
