from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from rest_framework.authtoken.models import Token


@transaction.atomic
def user_get_or_create_with_token(
    *, username: str, email: str = "", password: str | None = None, is_staff: bool = False
) -> tuple[AbstractBaseUser, str, bool]:
    """Return ``(user, api_token, created)``, creating the user and its token if needed.

    An existing user keeps its token; a given password replaces the old one.
    """
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=username, defaults={"email": email, "is_staff": is_staff}
    )
    if is_staff and not user.is_staff:
        user.is_staff = True
        user.is_superuser = True
    if created and is_staff:
        user.is_superuser = True
    if password:
        user.set_password(password)
    elif created:
        user.set_unusable_password()
    user.save()
    token, _ = Token.objects.get_or_create(user=user)
    return user, token.key, created
