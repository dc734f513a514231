"""Throughput of ``image.process``: photos/second made into three thumbnail sizes, end to
end, against a naive single-process Pillow loop.

What is measured (one run, one machine)
    1. End to end, N photos (default 1,000) of 3000x2000 (JPEG quality 90, about 3.3 MB
       each; every fifth with EXIF orientation 6): from starting the multipart
       ``POST /api/v1/jobs/`` of a ZIP holding them (stored, as photos are already
       compressed) until the job's WebSocket reports its end, through uvicorn and a real Celery
       worker (prefork, ``--concurrency`` pool processes, default 2) on the CPU queue.
       Each photo becomes thumbnails fitting 1600, 800 and 200 pixels, auto-rotated,
       metadata stripped, JPEG quality 85; the job merges them into one output ZIP. The
       job must succeed with N photos and 3N files.
    2. The naive loop: one Python process, Pillow, for each photo file: open,
       ``exif_transpose``, ``thumbnail`` per size from the full image, save JPEG quality
       85 (``_support.PHOTO_WAYS["Pillow, plain"]``, also run by ``image_libraries.py``).
    Prints both rates, the ratio against the target (>= 1.8x on 2 cores), the
    worker's CPU per photo and the peak RSS of each pool process (target < 400 MB);
    exit status 0 whatever the verdict.

The photos: ``--unique`` different ones (default 50; generating 3000x2000 noise costs
about half a second each) repeated under distinct names up to N, in the ZIP and in the
naive loop's folder alike. Nothing is cached between images on either side (libvips'
operation cache is off in workers), so a repeat costs what a new photo would.

Set-up and tear-down are ``_support``'s, shared by every bench. Run from the repository
root::

    .venv/bin/python bench/image_throughput.py [--photos N] [--unique N] [--concurrency N]
"""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import (
    MB,
    PHOTO_SIZES,
    RssSampler,
    api_and_worker,
    make_photos,
    photo_way,
    print_checks,
    print_summary,
    print_timeline,
    ratio_check,
    scratch_and_database,
    service_env,
    submit_file_and_wait,
    tree_cpu_seconds,
)

TARGET_RATIO = 1.8
TARGET_RSS_MB = 400
PARAMS = {
    "sizes": [{"width": size, "height": size} for size in PHOTO_SIZES],
    "format": "jpeg",
    "quality": 85,
    "auto_rotate": True,
    "strip_metadata": True,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--unique", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--chunk-size", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and DB")
    return parser.parse_args(argv)


def photo_set(scratch: Path, photos: int, unique: int) -> tuple[Path, Path]:
    """A folder of ``photos`` JPEG files (``unique`` different ones, hard-linked
    under distinct names) and a stored ZIP of the same files."""
    originals = scratch / "originals"
    originals.mkdir()
    make_photos(originals, unique)
    sources = sorted(originals.iterdir())
    folder = scratch / "photos"
    folder.mkdir()
    archive = scratch / "photos.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED, allowZip64=True) as zipped:
        for number in range(photos):
            name = f"photo-{number:05d}.jpg"
            os.link(sources[number % unique], folder / name)
            zipped.write(folder / name, f"photos/{name}")
    return folder, archive


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("Bench: image.process throughput (photos/s) against a naive Pillow loop.")
    with scratch_and_database("bulkyard-bench-images-", keep=args.keep) as scratch:
        folder, archive = photo_set(scratch, args.photos, args.unique)
        size = archive.stat().st_size
        print(
            f"{args.photos:,} photos of 3000x2000 ({args.unique} different), ZIP "
            f"{size / 1e9:.2f} GB; sizes {PHOTO_SIZES}, chunk_size {args.chunk_size}"
        )
        env = service_env(scratch, size)
        env["BULKYARD_ZIP_MAX_TOTAL_BYTES"] = str(2 * size)
        with api_and_worker(env, scratch, concurrency=args.concurrency) as (client, worker):
            print(f"\nEnd to end, {args.photos:,} photos ...")
            cpu_before = tree_cpu_seconds(worker.pid)
            with RssSampler(worker.pid) as sampler:
                seconds, job = submit_file_and_wait(
                    client, archive, kind="image.process", params=PARAMS, chunk_size=args.chunk_size
                )
            worker_cpu = tree_cpu_seconds(worker.pid) - cpu_before
        summary = job.get("summary") or {}
        if (
            job["status"] != "succeeded"
            or job["succeeded_items"] != args.photos
            or summary.get("files") != args.photos * len(PHOTO_SIZES)
        ):
            raise RuntimeError(f"the job ended {job['status']}: {str(job)[:2000]}")
        rate = args.photos / seconds
        pool_peak = max(
            (rss for pid, rss in sampler.peaks.per_process.items() if pid != worker.pid),
            default=0,
        )
        print(f"  {seconds:.1f} s -> {rate:.1f} photos/s")
        print_timeline(job["id"], seconds, processes=args.concurrency)
        print(f"  worker CPU per photo {worker_cpu / args.photos * 1000:.0f} ms")
        print(f"  peak RSS per pool process {pool_peak / MB:.0f} MB")
        print(
            f"  output ZIP {summary['zip_bytes'] / 1e6:.0f} MB, {summary['files']:,} files, "
            f"{summary['saved_percent']}% smaller than the photos"
        )

        print(f"\nNaive loop: one process, Pillow, the same {args.photos:,} photos ...")
        naive = photo_way(folder, scratch / "naive", "Pillow, plain", env=env)
        naive_rate = naive["images"] / naive["seconds"]
        print(
            f"  {naive['seconds']:.1f} s -> {naive_rate:.1f} photos/s, CPU "
            f"{naive['cpu'] / naive['images'] * 1000:.0f} ms/photo, peak RSS "
            f"{naive['rss_mb']:.0f} MB"
        )

        ratio = rate / naive_rate
        print_summary(
            f"Summary ({args.photos:,} photos, {args.concurrency} pool processes)",
            [
                ("image.process end to end", rate, "photos/s"),
                ("naive Pillow loop", naive_rate, "photos/s"),
            ],
        )
        print_checks(
            [
                ratio_check("end to end / naive loop", ratio, TARGET_RATIO),
                (
                    "peak RSS per pool process",
                    f"{pool_peak / MB:.0f} MB",
                    f"< {TARGET_RSS_MB} MB",
                    pool_peak < TARGET_RSS_MB * MB,
                ),
            ]
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
