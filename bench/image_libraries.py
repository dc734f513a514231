"""Pillow or pyvips for image jobs: the same work, one process each.

What is measured (one run, one machine): ``--photos`` generated photos of 3000x2000
(JPEG, quality 90, noise over gradients so they compress like photos; every fifth one
with an EXIF orientation of 6), each made into three thumbnails that fit 1600, 800 and
200 pixels, auto-rotated, metadata stripped, saved as JPEG quality 85. Each way runs in
its own process (so its peak RSS is its own), one image after another:
    1. Pillow, plain: open, ``exif_transpose``, ``thumbnail`` per size from the full image.
    2. Pillow, tuned: JPEG draft mode (the decoder scales by 1/2, 1/4, 1/8 while decoding)
       for the smaller sizes, each size made from the next larger one.
    3. pyvips: ``thumbnail`` per size (libvips shrinks on load and streams), ``keep=none``.
Prints images/s, CPU seconds per image and peak RSS of each, and the ratios. The photos
and the ways are ``_support``'s (``image_throughput.py`` measures against the first). Run
from the repository root::

    .venv/bin/python bench/image_libraries.py [--photos N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import PHOTO_SIZES, PHOTO_WAYS, make_photos, photo_way


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=100)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bulkyard-bench-images-") as scratch:
        photos = Path(scratch) / "photos"
        photos.mkdir()
        make_photos(photos, args.photos)
        size = sum(p.stat().st_size for p in photos.iterdir()) / args.photos
        print(f"{args.photos} photos of 3000x2000, {size / 1e6:.1f} MB each; sizes {PHOTO_SIZES}")
        results = {}
        for name in PHOTO_WAYS:
            out = Path(scratch) / name.replace(" ", "-").replace(",", "")
            result = photo_way(photos, out, name)
            results[name] = result
            print(
                f"  {name:<20s} {result['images'] / result['seconds']:6.1f} images/s  "
                f"CPU {result['cpu'] / result['images'] * 1000:6.0f} ms/image  "
                f"peak RSS {result['rss_mb']:5.0f} MB"
            )
        plain = results["Pillow, plain"]
        for name, result in results.items():
            ratio = (result["images"] / result["seconds"]) / (plain["images"] / plain["seconds"])
            print(f"  {name:<20s} {ratio:5.2f}x Pillow plain")
    return 0


if __name__ == "__main__":
    sys.exit(main())
