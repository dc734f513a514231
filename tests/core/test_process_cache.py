"""The process-wide backend of the default cache."""

import uuid

from django.core.cache import cache

from bulkyard.core.cache import process_cache


def test_the_process_has_one_backend():
    assert process_cache() is process_cache()


def test_it_is_the_default_caches_store():
    key = f"test-{uuid.uuid4().hex}"
    process_cache().set(key, 7, 30)

    assert cache.get(key) == 7
