"""Byte counts for people (bulkyard/core/sizes.py)."""

import pytest

from bulkyard.core.sizes import human_bytes


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (0, "0 bytes"),
        (900, "900 bytes"),
        (1536, "1.5 KiB"),
        (16 * 1024 * 1024, "16 MiB"),
        (512 * 1024 * 1024, "512 MiB"),
        (3 * 1024**4, "3 TiB"),
    ],
)
def test_byte_counts_are_shown_in_the_largest_whole_unit(count, shown):
    assert human_bytes(count) == shown
