"""The email ledger's move to the shared send-once vocabulary keeps every row's
meaning, both ways."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from bulkyard.jobs.models import Job

BEFORE = [("bulkyard_mail", "0001_email_delivery")]
AFTER = [("bulkyard_mail", "0002_send_once_ledger")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_sent_and_failed_become_done_with_their_outcome_and_back(user):
    job = Job.objects.create(owner=user, kind="email.send", input_format="csv", chunk_size=10)
    try:
        old = _migrate(BEFORE).get_model("bulkyard_mail", "EmailDelivery")
        for number, status in enumerate(("pending", "sending", "sent", "failed"), start=1):
            old.objects.create(
                job_id=job.pk,
                recipient=f"{status}@example.com",
                item_number=number,
                status=status,
                message_id=f"<{number}@example.com>",
                attempts=number,
            )

        new = _migrate(AFTER).get_model("bulkyard_mail", "EmailDelivery")
        assert sorted(new.objects.values_list("item_number", "status", "succeeded", "runs")) == [
            (1, "pending", None, 1),
            (2, "sending", None, 2),
            (3, "done", True, 3),
            (4, "done", False, 4),
        ]

        old = _migrate(BEFORE).get_model("bulkyard_mail", "EmailDelivery")
        assert sorted(old.objects.values_list("item_number", "status", "attempts")) == [
            (1, "pending", 1),
            (2, "sending", 2),
            (3, "sent", 3),
            (4, "failed", 4),
        ]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
