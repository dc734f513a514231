"""Image operations on libvips (pyvips): what one image becomes. Of the job engine it
knows only ``ItemError``, which its failures are.

Why libvips (docs/decisions/0008): on the issue's workload it does the work of a tuned
Pillow loop for half the CPU, decodes JPEGs at reduced scale while loading and streams
rather than holding whole images. This module is imported by workers only, on first
use: the web process never loads libvips.

Safety, in this order, before any pixel is decoded:
- only the loaders listed in ``LOADERS`` can run (libvips also reads SVG,
  which can reference files, and formats whose parsers see little use); anything else is
  ``not_an_image``;
- the header's width x height must not exceed the pixel limit (decompression bombs: a
  PNG of a few kB can declare 100,000 x 100,000 pixels);
- truncated or corrupt data fails the image (``fail_on=truncated``) instead of
  producing a picture with a grey band.

Several sizes from one decode: the image is decoded once, shrunk while loading to the
smallest size every requested size can still be made from, kept in memory, and each size
is resized from it (half the CPU of decoding once per size, decision 0008).
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyvips
from django.conf import settings

from bulkyard.images.options import Crop, Fit, OutputFormat, Position
from bulkyard.jobs.sdk import ItemError

# libvips loader classes allowed to parse uploads.
LOADERS = (
    "VipsForeignLoadJpeg",
    "VipsForeignLoadPng",
    "VipsForeignLoadWebp",
    "VipsForeignLoadHeif",
    "VipsForeignLoadNsgif",
    "VipsForeignLoadTiff",
)
# What those loaders call themselves in a header (vips-loader), to the format read.
_LOADED_FORMATS = {
    "jpegload_buffer": "jpeg",
    "pngload_buffer": "png",
    "webpload_buffer": "webp",
    "heifload_buffer": "avif",
    "gifload_buffer": "gif",
    "tiffload_buffer": "tiff",
}
WRITTEN_FORMATS = ("jpeg", "png", "webp", "avif")
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "avif": "avif"}
# Far beyond any real image, below libvips' own coordinate limit.
_UNBOUNDED = 10_000_000
# Several sizes are made from one decoded base kept in memory, unless it is
# larger than this: then each size after the first is decoded from the file again
# (slower, but a 100-megapixel image must not cost a worker 300 MB).
SHARED_BASE_BYTES = 64 * 1024 * 1024
# EXIF orientations 5-8 turn the picture a quarter: width and height swap.
_QUARTER_TURNS = frozenset({5, 6, 7, 8})

_configured = False


def configure() -> None:
    """Set libvips up for a prefork worker process: one thread per process (the
    pool's processes are the parallelism), no operation cache (it would keep
    decoded images alive between items), only the allowed loaders."""
    global _configured
    if _configured:
        return
    pyvips.concurrency_set(settings.BULKYARD_IMAGE_THREADS)
    pyvips.cache_set_max(0)
    pyvips.operation_block_set("VipsForeignLoad", True)
    for loader in LOADERS:
        pyvips.operation_block_set(loader, False)
    _configured = True


class ImageFailure(ItemError):
    """One image cannot be processed; ``code`` says why, for the report."""


@dataclass(frozen=True, slots=True)
class Size:
    label: str
    width: int | None
    height: int | None
    fit: Fit = "inside"
    crop: Crop = "centre"
    enlarge: bool = False

    def scale_for(self, width: int, height: int) -> float:
        """The scale this size needs of an upright ``width`` x ``height`` image."""
        across = self.width / width if self.width else math.inf
        down = self.height / height if self.height else math.inf
        if math.isinf(across) and math.isinf(down):
            return 1.0
        # Cover and fill need both sides at least as large as asked.
        scale = min(across, down) if self.fit == "inside" else max(across, down)
        return scale if self.enlarge else min(scale, 1.0)

    def output_dimensions(self, width: int, height: int) -> tuple[int, int]:
        """What this size makes of an upright ``width`` x ``height`` image (to
        within a pixel of rounding)."""
        if self.fit == "fill" and self.width and self.height:
            return self.width, self.height  # stretched to the box, whatever the image
        scale = self.scale_for(width, height)
        made = (max(1, round(width * scale)), max(1, round(height * scale)))
        if self.fit == "cover" and self.width and self.height:
            return min(made[0], self.width), min(made[1], self.height)
        return made


@dataclass(frozen=True, slots=True)
class Watermark:
    text: str
    position: Position = "bottom-right"
    opacity: float = 0.5
    # Height of the text as a fraction of the image's shorter side.
    scale: float = 0.04
    colour: tuple[int, int, int] = (255, 255, 255)


@dataclass(frozen=True, slots=True)
class Recipe:
    sizes: Sequence[Size]
    format: OutputFormat = "same"
    quality: int = 85
    auto_rotate: bool = True
    strip_metadata: bool = True
    watermark: Watermark | None = None
    max_pixels: int = 100_000_000


@dataclass(frozen=True, slots=True)
class Source:
    format: str
    width: int
    height: int
    orientation: int = 1  # EXIF's, 1 when the header has none

    def upright(self) -> tuple[int, int]:
        """Width and height once turned by the orientation."""
        if self.orientation in _QUARTER_TURNS:
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True, slots=True)
class Rendition:
    label: str
    format: str
    width: int
    height: int
    data: bytes

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


def inspect(content: bytes, *, max_pixels: int) -> Source:
    """The image's format and size, from its header only; ``ImageFailure`` for
    what is not an allowed image or has more pixels than allowed."""
    configure()
    try:
        header = pyvips.Image.new_from_buffer(content, "", access="sequential")
    except pyvips.Error as exc:
        raise ImageFailure(
            "not_an_image", "not an image in a supported format (JPEG, PNG, WebP, AVIF, GIF, TIFF)"
        ) from exc
    loader = str(header.get("vips-loader"))
    source = Source(
        format=_LOADED_FORMATS.get(loader, loader),
        width=header.width,
        height=header.height,
        orientation=int(header.get("orientation")) if header.get_typeof("orientation") else 1,
    )
    pixels = source.width * source.height
    if pixels > max_pixels:
        raise ImageFailure(
            "too_many_pixels",
            f"the image is {source.width:,} x {source.height:,} = {pixels:,} pixels; the limit "
            f"is {max_pixels:,} (a decompression bomb?)",
        )
    return source


def render(content: bytes, recipe: Recipe) -> tuple[Source, list[Rendition]]:
    """Every size of the recipe, made from one decode of ``content``."""
    source = inspect(content, max_pixels=recipe.max_pixels)
    try:
        return source, _render(content, source, recipe)
    except WatermarkError as exc:
        raise ImageFailure("watermark_failed", f"the watermark cannot be drawn: {exc}") from None
    except pyvips.Error as exc:
        reason = _reason(exc)
        # libvips decodes lazily: a truncated file fails while an output is
        # being written, so the saver's name tells the two apart.
        if "save" in reason.split(":", 1)[0]:
            raise ImageFailure("encode_failed", f"an output cannot be written: {reason}") from None
        raise ImageFailure(
            "corrupt_image", f"the image data is truncated or corrupt: {reason}"
        ) from None


class WatermarkError(Exception):
    pass


def _render(content: bytes, source: Source, recipe: Recipe) -> list[Rendition]:
    width, height = source.upright() if recipe.auto_rotate else (source.width, source.height)
    from_file = functools.partial(
        pyvips.Image.thumbnail_buffer,
        content,
        no_rotate=not recipe.auto_rotate,
        option_string="fail_on=truncated",
    )
    for size in recipe.sizes:
        made = size.output_dimensions(width, height)
        if made[0] * made[1] > recipe.max_pixels:
            raise ImageFailure(
                "output_too_large",
                f"size {size.label!r} would make {made[0]:,} x {made[1]:,} pixels of this image; "
                f"the limit is {recipe.max_pixels:,}",
            )
    scale = min(1.0, max(size.scale_for(width, height) for size in recipe.sizes))
    # Decoded once, shrunk while loading to what the largest size needs.
    base = from_file(
        max(1, math.ceil(width * scale)), height=max(1, math.ceil(height * scale)), size="down"
    )
    shared = len(recipe.sizes) > 1 and base.width * base.height * base.bands <= SHARED_BASE_BYTES
    if shared:
        base = base.copy_memory()
    output_format = _output_format(source.format, recipe.format)
    renditions = []
    for number, size in enumerate(recipe.sizes):
        image = _resized(
            size,
            base=base if shared or number == 0 else None,
            from_file=from_file,
            upright=(width, height),
        )
        if recipe.watermark is not None:
            image = _watermarked(image, recipe.watermark)
        renditions.append(
            Rendition(
                label=size.label,
                format=output_format,
                width=image.width,
                height=image.height,
                data=_encoded(image, output_format, recipe),
            )
        )
    return renditions


def _resized(
    size: Size,
    *,
    base: pyvips.Image | None,
    from_file: Callable[..., pyvips.Image],
    upright: tuple[int, int],
) -> pyvips.Image:
    """``size`` of the image: the base itself where it is that size already,
    libvips' thumbnail of the base where there is one, else of the file."""
    width, height = size.width, size.height
    if width is None and height is None:
        width, height = upright  # the original size
    if base is not None and base.width == width and height in (None, base.height):
        return base
    # The base is upright already, or meant to stay as it is.
    thumbnail = (
        from_file if base is None else functools.partial(base.thumbnail_image, no_rotate=True)
    )
    options: dict[str, object] = {
        "height": height or _UNBOUNDED,
        "size": "both" if size.enlarge else "down",
    }
    if size.fit == "cover":
        options["crop"] = size.crop
    elif size.fit == "fill":
        options["size"] = "force"
    return thumbnail(width or _UNBOUNDED, **options)


def _watermarked(image: pyvips.Image, watermark: Watermark) -> pyvips.Image:
    text_height = max(8, round(min(image.width, image.height) * watermark.scale))
    margin = max(2, text_height // 2)
    room = image.width - 2 * margin
    if room < 8 or text_height + 2 * margin > image.height:
        return image  # an image too small to carry the text keeps none
    try:
        # Fitted into the box by libvips (it picks the resolution), so a long
        # text never renders larger than the image first. pango reads markup:
        # the user's text is escaped so that it is shown as typed.
        mask = pyvips.Image.text(
            html.escape(watermark.text), font="sans bold", width=room, height=text_height
        )
    except pyvips.Error as exc:
        raise WatermarkError(_reason(exc)) from None
    x, y = _placed(watermark.position, image, mask, margin)
    alpha = (mask * watermark.opacity).cast("uchar")
    ink = (mask.new_from_image(list(watermark.colour)).copy(interpretation="srgb")).bandjoin(alpha)
    had_alpha = image.hasalpha()
    if image.interpretation not in ("srgb", "rgb") or image.bands not in (3, 4):
        image = image.colourspace("srgb")
    marked = image.composite2(ink, "over", x=x, y=y).cast(image.format)
    return marked if had_alpha else marked.extract_band(0, n=3)


# Where each position puts the text: (across, down), each "low", "middle" or "high".
_ANCHORS: dict[str, tuple[str, str]] = {
    "top-left": ("low", "low"),
    "top": ("middle", "low"),
    "top-right": ("high", "low"),
    "left": ("low", "middle"),
    "centre": ("middle", "middle"),
    "right": ("high", "middle"),
    "bottom-left": ("low", "high"),
    "bottom": ("middle", "high"),
    "bottom-right": ("high", "high"),
}


def _placed(
    position: Position, image: pyvips.Image, mask: pyvips.Image, margin: int
) -> tuple[int, int]:
    across, down = _ANCHORS[position]
    return (
        _offset(across, image.width, mask.width, margin),
        _offset(down, image.height, mask.height, margin),
    )


def _offset(anchor: str, room: int, extent: int, margin: int) -> int:
    if anchor == "low":
        return margin
    if anchor == "middle":
        return (room - extent) // 2
    return max(0, room - extent - margin)


def _output_format(source_format: str, wanted: OutputFormat) -> str:
    if wanted != "same":
        return wanted
    # GIF and TIFF sources become PNG: lossless, and every browser shows it.
    return source_format if source_format in WRITTEN_FORMATS else "png"


def _encoded(image: pyvips.Image, output_format: str, recipe: Recipe) -> bytes:
    keep = pyvips.enums.ForeignKeep.ICC if recipe.strip_metadata else pyvips.enums.ForeignKeep.ALL
    if output_format == "jpeg":
        if image.hasalpha():
            image = image.flatten(background=[255, 255, 255])
        return bytes(image.jpegsave_buffer(Q=recipe.quality, keep=keep))
    if output_format == "png":
        return bytes(image.pngsave_buffer(keep=keep))
    if output_format == "webp":
        return bytes(image.webpsave_buffer(Q=recipe.quality, keep=keep))
    return bytes(image.heifsave_buffer(Q=recipe.quality, keep=keep, compression="av1"))


def _reason(exc: pyvips.Error) -> str:
    """libvips' own words, without the call chain around them."""
    lines = [line.strip() for line in str(exc.detail or exc).splitlines() if line.strip()]
    meaningful = [line for line in lines if not line.startswith("unable to call")]
    return (meaningful or lines or ["unknown libvips error"])[0][:300]
