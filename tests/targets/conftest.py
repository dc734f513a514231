import pytest

from tests.support.jobs import may_use_contacts


@pytest.fixture(autouse=True)
def _user_may_use_contacts(request):
    """The tests' user may use the contacts target (a plain user may not);
    tests of refusals use ``other_user``."""
    if "user" in request.fixturenames:
        may_use_contacts(request.getfixturevalue("user"))
