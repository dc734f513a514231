"""Fault tests: a whole deployment on private servers that the tests break."""

from collections.abc import Iterator

import pytest

from tests.support.private import PrivatePostgres
from tests.support.stack import Stack, migrated_cluster, stack_fixture

pytestmark = pytest.mark.faults


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivatePostgres]:
    cluster = migrated_cluster()
    yield cluster
    cluster.destroy()


@pytest.fixture
def stack_options() -> dict:
    """How a test's deployment differs from production (override per module)."""
    return {}


@pytest.fixture
def stack(private_postgres, tmp_path, stack_options) -> Iterator[Stack]:
    """A deployment on a fresh database and a private Redis, not yet started."""
    if not private_postgres.running:  # a test stopped it and failed before starting it
        private_postgres.start()
    yield from stack_fixture(private_postgres, tmp_path, **stack_options)
