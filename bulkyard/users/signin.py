"""Failed sign-ins, counted per account and per client address by django-axes
(config/settings/auth.py), and staff's unlock.

Every door that checks a password (``/accounts/login/``, the admin's login,
the browsable API's ``/api-auth/login/``) goes through Django's
``authenticate()``, where axes' backend refuses a locked-out account or
address before any password is hashed; its records are rows in the
database, listed in the admin ("Access attempts").
"""

from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from axes.utils import reset
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest


class SignInAttemptsHandler(AxesDatabaseHandler):
    """axes' database handler, but a successful sign-in clears only the
    failures recorded against the account signed in to.

    axes would clear every record matching any lockout parameter, the
    client address's too: someone with an account of their own could then
    sign in to it between guesses at another account's password, from the
    same address, and never be locked out.
    """

    def reset_user_attempts(self, request: HttpRequest, credentials: Any = None) -> int:
        username = get_client_username(request, credentials)
        deleted, _ = AccessAttempt.objects.filter(username=username).delete()
        return deleted


def sign_in_unlock(*, user: AbstractBaseUser) -> int:
    """End ``user``'s lockout: clear the failed sign-ins recorded against
    their account. Returns how many records were removed.

    An address locked by failures against other accounts stays locked (an
    office behind one address may share it with whoever guessed): staff
    clear it in the admin's "Access attempts" or with ``manage.py
    axes_reset_ip``.
    """
    removed: int = reset(username=user.get_username())
    return removed
