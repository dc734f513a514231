"""Sign-in pages that Django's auth views do not provide: the page of a
locked-out sign-in (django-axes), and the password reset form with its
limits (docs/security.md, "Signing in")."""

import math
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.views import PasswordResetView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bulkyard.core.client_ip import client_address
from bulkyard.users.password_reset import password_reset_allow


def locked_out(request: HttpRequest, *_args: Any, **_kwargs: Any) -> HttpResponse:
    """The answer to a sign-in while its account or address is locked out
    (``AXES_LOCKOUT_CALLABLE``), from any login page: 429, saying when to
    try again and how to be let in sooner. axes passes the view's response
    and the credentials too, in an order that differs between its sync and
    async paths; neither is needed here."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    context = {
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": max(math.ceil(seconds / 60), 1),
    }
    response = render(request, "registration/locked_out.html", context, status=429)
    # At most this long: the lockout ends one cool-off after the failure that began it.
    response["Retry-After"] = str(seconds)
    return response


class ThrottledPasswordResetView(PasswordResetView):
    """Django's password reset form, refusing to send more emails than the
    client's address and the mailbox are allowed (bulkyard/users/password_reset.py)."""

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        allowance = password_reset_allow(
            email=form.cleaned_data["email"], client_address=client_address(self.request)
        )
        if allowance.allowed:
            return super().form_valid(form)
        # The same page whether or not the mailbox is a user's.
        context = {"minutes": max(math.ceil(allowance.retry_after / 60), 1)}
        response = render(
            self.request, "registration/password_reset_refused.html", context, status=429
        )
        response["Retry-After"] = str(allowance.retry_after)
        return response
