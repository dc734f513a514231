"""Targets' permissions and scopes: declared, checked at registration, granted."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import models

from bulkyard.data.models import Contact
from bulkyard.jobs.kinds import NotAllowed
from bulkyard.targets.access import TargetScope, default_permissions, owned_by
from bulkyard.targets.registry import get_target, register_target
from bulkyard.targets.services import target_grant
from tests.factories import UserFactory

CONTACTS = get_target("contacts")


class _Owned(models.Model):
    """Scoped by owner, with the constraint a scope needs. (Unmanaged models
    have no table: DO_NOTHING keeps them out of other tests' user deletions.)"""

    owner = models.ForeignKey("auth.User", on_delete=models.DO_NOTHING, related_name="+")
    code = models.CharField(max_length=10)

    class Meta:
        app_label = "bulkyard_data"
        managed = False
        constraints = [models.UniqueConstraint(fields=["owner", "code"], name="owned_code")]

    def __str__(self) -> str:
        return self.code


class _GloballyUnique(models.Model):
    owner = models.ForeignKey("auth.User", on_delete=models.DO_NOTHING, related_name="+")
    code = models.CharField(max_length=10, unique=True)

    class Meta:
        app_label = "bulkyard_data"
        managed = False
        constraints = [models.UniqueConstraint(fields=["owner", "code"], name="gu_code")]

    def __str__(self) -> str:
        return self.code


def test_contacts_are_scoped_by_owner_with_the_models_permissions():
    assert CONTACTS.scope is not None
    assert CONTACTS.scope.fields == ("owner",)
    assert CONTACTS.scope_columns == ("owner_id",)
    assert CONTACTS.permissions == {
        "import": ("bulkyard_data.add_contact", "bulkyard_data.change_contact"),
        "export": ("bulkyard_data.view_contact",),
        "recipients": ("bulkyard_data.view_contact",),
    }


def test_a_scope_needs_a_unique_constraint_on_its_fields_and_the_key():
    with pytest.raises(ValueError, match="needs a UniqueConstraint"):
        register_target(
            name="bad", model=Contact, key="name", fields=("name",), scope=owned_by("owner")
        )


def test_a_scoped_key_unique_on_its_own_is_refused():
    with pytest.raises(ValueError, match="unique on its own"):
        register_target(
            name="bad", model=_GloballyUnique, key="code", fields=("code",), scope=owned_by("owner")
        )


def test_a_scopes_field_cannot_be_imported():
    with pytest.raises(ValueError, match="cannot be imported"):
        register_target(
            name="bad",
            model=_Owned,
            key="code",
            fields=("code", "owner"),
            scope=owned_by("owner"),
        )


def test_a_target_may_name_its_own_permissions_and_scope():
    scope = TargetScope(fields=("owner",), values=lambda user: {"owner": user.pk + 1000})
    target = register_target(
        name="test.owned",
        model=_Owned,
        key="code",
        fields=("code",),
        scope=scope,
        permissions={"recipients": ("auth.view_user",)},
    )

    assert target.permissions["recipients"] == ("auth.view_user",)
    assert target.permissions["import"] == default_permissions(_Owned)["import"]
    assert target.scope_values(UserFactory.build(pk=1)) == {"owner": 1001}


@pytest.mark.django_db
def test_a_plain_user_may_do_nothing_with_a_target():
    user = UserFactory()

    assert not any(CONTACTS.allows(user, operation) for operation in CONTACTS.permissions)
    with pytest.raises(NotAllowed, match=r"bulkyard_data\.add_contact"):
        CONTACTS.require(user, "import")


@pytest.mark.django_db
def test_granting_an_operation_gives_exactly_its_permissions():
    user = UserFactory()

    granted = target_grant(user=user, target=CONTACTS, operations=["export"])

    fresh = type(user).objects.get(pk=user.pk)  # permissions are cached per instance
    assert granted == ["bulkyard_data.view_contact"]
    assert fresh.has_perm("bulkyard_data.view_contact")
    assert CONTACTS.allows(fresh, "export")
    assert not CONTACTS.allows(fresh, "import")


@pytest.mark.django_db
def test_an_inactive_user_may_do_nothing_whatever_their_permissions():
    user = UserFactory(is_active=False, is_superuser=True)

    assert not CONTACTS.allows(user, "export")


@pytest.mark.django_db
def test_a_users_rows_are_theirs_only(user, other_user):
    Contact.objects.create(owner=user, email="a@x.io", name="mine")
    Contact.objects.create(owner=other_user, email="a@x.io", name="theirs")

    assert list(CONTACTS.rows_for(user).values_list("name", flat=True)) == ["mine"]


@pytest.mark.django_db
def test_the_grant_command_names_what_it_granted(capsys):
    user = UserFactory(username="ada")

    call_command("grant_target", "ada", "contacts", "--operations", "import")

    assert "ada may import on 'contacts'" in capsys.readouterr().out
    assert type(user).objects.get(pk=user.pk).has_perm("bulkyard_data.change_contact")
    assert not Group.objects.exists()
