"""gzip inputs (bulkyard/jobs/inputs/gzipped.py)."""

import gzip
import io

import pytest

from bulkyard.jobs.inputs import gunzip
from bulkyard.jobs.kinds import InputRejected


def test_gunzip_refuses_a_decompression_bomb(settings):
    settings.BULKYARD_MAX_DECOMPRESSED_BYTES = 10_000
    bomb = io.BytesIO(gzip.compress(b"0" * 1_000_000))

    with pytest.raises(InputRejected, match="decompresses to more than 10000 bytes"):
        gunzip(bomb, io.BytesIO())


def test_gunzip_refuses_a_truncated_stream():
    data = gzip.compress(b"a,b\n" + b"1,2\n" * 50_000)

    with pytest.raises(InputRejected) as caught:
        gunzip(io.BytesIO(data[: len(data) // 2]), io.BytesIO())

    assert caught.value.code == "invalid_gzip"
