"""Tunables of the job engine."""

from config.env import env

# How long a worker owns a chunk without renewing its lease. Running chunks
# renew it as they go; a chunk whose lease ran out was orphaned by a crash.
BULKYARD_CHUNK_LEASE_SECONDS = env.float("BULKYARD_CHUNK_LEASE_SECONDS", default=120.0)
# A chunk that crashed its worker this many times fails instead of looping.
BULKYARD_CHUNK_MAX_ATTEMPTS = env.int("BULKYARD_CHUNK_MAX_ATTEMPTS", default=3)
# Per-kind chunk sizes, overriding each kind's default: {"text.stats": 2000}.
BULKYARD_CHUNK_SIZES: dict[str, int] = env.json("BULKYARD_CHUNK_SIZES", default={})
# Modules with job kinds outside installed apps' ``kinds`` modules.
BULKYARD_EXTRA_KIND_MODULES = env.list("BULKYARD_EXTRA_KIND_MODULES", default=[])
# How often a running chunk checks for cancellation and renews its lease.
BULKYARD_CHUNK_CHECK_SECONDS = env.float("BULKYARD_CHUNK_CHECK_SECONDS", default=1.0)
# A gzip input may not decompress to more than this (decompression bombs).
BULKYARD_MAX_DECOMPRESSED_BYTES = env.int(
    "BULKYARD_MAX_DECOMPRESSED_BYTES", default=20 * 1024 * 1024 * 1024
)
# The largest single item (one CSV record or JSONL line) accepted.
BULKYARD_MAX_ITEM_BYTES = env.int("BULKYARD_MAX_ITEM_BYTES", default=1024 * 1024)
# ZIP inputs (each file an item): refused before a job exists beyond these.
BULKYARD_ZIP_MAX_MEMBERS = env.int("BULKYARD_ZIP_MAX_MEMBERS", default=100_000)
BULKYARD_ZIP_MAX_TOTAL_BYTES = env.int("BULKYARD_ZIP_MAX_TOTAL_BYTES", default=2 * 1024**3)
BULKYARD_ZIP_MAX_RATIO = env.int("BULKYARD_ZIP_MAX_RATIO", default=100)
# text.process: larger documents fail alone (document_too_large); jobs may ask for less.
BULKYARD_TEXT_MAX_DOCUMENT_BYTES = env.int("BULKYARD_TEXT_MAX_DOCUMENT_BYTES", default=512 * 1024)
# A job never has more chunks than this: for a huge file of tiny items, chunks
# grow instead (planning doubles the chunk size as often as needed).
BULKYARD_MAX_CHUNKS_PER_JOB = env.int("BULKYARD_MAX_CHUNKS_PER_JOB", default=10_000)
# image.process: images with more pixels fail alone (decompression bombs); jobs may ask for less.
BULKYARD_IMAGE_MAX_PIXELS = env.int("BULKYARD_IMAGE_MAX_PIXELS", default=100_000_000)
# The largest image file accepted, in a ZIP or fetched from a URL.
BULKYARD_IMAGE_MAX_FILE_BYTES = env.int("BULKYARD_IMAGE_MAX_FILE_BYTES", default=50 * 1024 * 1024)
# libvips threads per worker process: the prefork pool's processes already use every core.
BULKYARD_IMAGE_THREADS = env.int("BULKYARD_IMAGE_THREADS", default=1)
# The order workers claim chunks in: "fair" takes owners, then an owner's jobs,
# in turn (decision 0013); "fifo" takes the oldest chunk first.
BULKYARD_SCHEDULING = env.str("BULKYARD_SCHEDULING", default="fair")
if BULKYARD_SCHEDULING not in ("fair", "fifo"):
    raise ValueError(f'BULKYARD_SCHEDULING must be "fair" or "fifo", not {BULKYARD_SCHEDULING!r}')
# A job paused for longer than this is cancelled by the sweeper, so that a
# forgotten pause does not keep its input and chunks forever; 0: never.
BULKYARD_PAUSE_MAX_HOURS = env.float("BULKYARD_PAUSE_MAX_HOURS", default=72.0)
if BULKYARD_PAUSE_MAX_HOURS < 0:
    raise ValueError("BULKYARD_PAUSE_MAX_HOURS must be 0 (never) or more hours")
