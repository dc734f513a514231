from decimal import Decimal

import factory
from django.contrib.auth import get_user_model


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.test")
    password = factory.django.Password("secret-password-1")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "bulkyard_data.Contact"

    email = factory.Sequence(lambda n: f"contact{n}@example.com")
    name = factory.Sequence(lambda n: f"Contact {n}")
    age = 30
    city = "Paris"
    amount = Decimal("12.50")
