"""The example target's model: contacts belong to a user."""

import pytest

from bulkyard.data.models import Contact
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_deleting_a_user_deletes_their_contacts_and_no_one_elses():
    leaving, staying = UserFactory(), UserFactory()
    Contact.objects.create(owner=leaving, email="a@x.example", name="A")
    Contact.objects.create(owner=staying, email="a@x.example", name="A")

    leaving.delete()

    assert list(Contact.objects.values_list("owner_id", flat=True)) == [staying.pk]
