"""Pillow or pyvips for image jobs (issue 5): the same work, one process each.

What is measured (one run, one machine): ``--photos`` generated photos of 3000x2000
(JPEG, quality 90, noise over gradients so they compress like photos; every fifth one
with an EXIF orientation of 6), each made into three thumbnails that fit 1600, 800 and
200 pixels, auto-rotated, metadata stripped, saved as JPEG quality 85. Each way runs in
its own process (so its peak RSS is its own), one image after another:
    1. Pillow, plain: open, ``exif_transpose``, ``thumbnail`` per size from the full image.
    2. Pillow, tuned: JPEG draft mode (the decoder scales by 1/2, 1/4, 1/8 while decoding)
       for the smaller sizes, each size made from the next larger one.
    3. pyvips: ``thumbnail`` per size (libvips shrinks on load and streams), ``keep=none``.
Prints images/s, CPU seconds per image and peak RSS of each, and the ratios. Run from
the repository root::

    .venv/bin/python bench/image_libraries.py [--photos N]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

SIZES = (1600, 800, 200)

WAYS = {
    "Pillow, plain": """
from PIL import Image, ImageOps
def make(source, target):
    with Image.open(source) as image:
        image = ImageOps.exif_transpose(image)
        for size in SIZES:
            copy = image.copy()
            copy.thumbnail((size, size), Image.Resampling.LANCZOS)
            copy.save(f"{target}-{size}.jpg", quality=85)
""",
    "Pillow, draft mode": """
from PIL import Image, ImageOps
def make(source, target):
    with Image.open(source) as image:
        image.draft("RGB", (SIZES[0], SIZES[0]))
        image = ImageOps.exif_transpose(image)
        for size in SIZES:
            image.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
            image.save(f"{target}-{size}.jpg", quality=85)
""",
    "pyvips": """
import pyvips
def make(source, target):
    for size in SIZES:
        image = pyvips.Image.thumbnail(source, size, height=size, size="down")
        image.write_to_file(f"{target}-{size}.jpg", Q=85, keep="none")
""",
}

RUNNER = """
import json, resource, sys, time
from pathlib import Path
SIZES = {sizes}
{code}
sources = sorted(Path(sys.argv[1]).glob("*.jpg"))
out = Path(sys.argv[2])
wall, cpu = time.perf_counter(), time.process_time()
for source in sources:
    make(str(source), str(out / source.stem))
print(json.dumps({{
    "images": len(sources),
    "seconds": time.perf_counter() - wall,
    "cpu": time.process_time() - cpu,
    "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}}))
"""


def make_photos(folder: Path, count: int) -> None:
    from PIL import Image

    rng = random.Random(5)
    for number in range(count):
        base = Image.linear_gradient("L").resize((3000, 2000))
        noise = Image.effect_noise((3000, 2000), rng.uniform(20, 60))
        red = Image.blend(base, noise, 0.5)
        green = Image.blend(base.rotate(90, expand=False), noise, 0.4)
        photo = Image.merge("RGB", (red, green, noise))
        exif = Image.Exif()
        if number % 5 == 0:
            exif[0x0112] = 6  # Orientation: rotate 90° clockwise to view
        photo.save(folder / f"photo-{number:04d}.jpg", quality=90, exif=exif)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=100)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bulkyard-bench-images-") as scratch:
        photos = Path(scratch) / "photos"
        photos.mkdir()
        make_photos(photos, args.photos)
        size = sum(p.stat().st_size for p in photos.iterdir()) / args.photos
        print(f"{args.photos} photos of 3000x2000, {size / 1e6:.1f} MB each; sizes {SIZES}")
        results = {}
        for name, code in WAYS.items():
            out = Path(scratch) / name.replace(" ", "-").replace(",", "")
            out.mkdir()
            script = RUNNER.format(sizes=SIZES, code=code)
            done = subprocess.run(
                [sys.executable, "-c", script, str(photos), str(out)],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(done.stdout)
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
