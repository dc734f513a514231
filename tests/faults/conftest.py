"""Fault tests: a whole deployment on private servers that the tests break."""

from collections.abc import Iterator

import pytest

from tests.support.stack import Stack, stack_fixture

pytestmark = pytest.mark.faults


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
