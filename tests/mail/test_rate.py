"""The account's rate limit lives in Redis: every worker draws on one budget."""

import os
import subprocess
import sys
import uuid

import pytest

from bulkyard.mail.rate import SendRate

# A minute's window, so that the check below never straddles two windows.
SPEND_A_MINUTE = """
import sys, django
django.setup()
from bulkyard.mail.rate import SendRate
rate = SendRate(per_second=1, window_seconds=60, account=sys.argv[1])
for _ in range(60):
    rate.acquire()
"""


@pytest.fixture
def account() -> str:
    return f"test-account-{uuid.uuid4()}"


def test_a_budget_spent_by_another_process_is_spent_for_this_one(account):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    subprocess.run([sys.executable, "-c", SPEND_A_MINUTE, account], env=env, check=True, timeout=60)

    assert not SendRate(per_second=1, window_seconds=60, account=account).available()


def test_accounts_have_budgets_of_their_own(account):
    busy = SendRate(per_second=1, window_seconds=60, account=account)
    for _ in range(60):
        busy.acquire()

    assert not busy.available()
    assert SendRate(per_second=1, window_seconds=60, account=f"{account}-other").available()
