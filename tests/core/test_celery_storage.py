"""A pool process's S3 clients (config/celery.py): its own, never the ones a
parent that used the storage before forking it would hand down."""

from celery import signals
from django.core.files.storage import storages

import config.celery  # noqa: F401 - connects the worker's signal handlers


def test_a_pool_process_starting_drops_the_s3_client_it_inherited(s3_storage):
    inherited = s3_storage.client

    signals.worker_process_init.send(sender=None)

    assert storages["default"] is s3_storage
    assert s3_storage.client is not inherited
