"""Image job kinds."""

from __future__ import annotations

import contextlib
import functools
import posixpath
import re
import time
import zipfile
from collections import Counter
from collections.abc import Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bulkyard.images.options import Crop, Fit, OutputFormat, Position
from bulkyard.jobs.kinds import (
    ChunkContext,
    ChunkResult,
    FinishContext,
    FinishResult,
    Item,
    ItemError,
    ItemResultData,
    JobKind,
    failures_by_code,
    summed_counts,
)
from bulkyard.jobs.parts import part_writer, zip_parts_merge
from bulkyard.jobs.registry import register

if TYPE_CHECKING:
    from bulkyard.images.fetching import Downloader
    from bulkyard.images.processing import Recipe, Rendition, Source

LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class SizeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        None,
        description="The folder of this size's files ({name}/photos/cat.jpg); default from "
        "the size: '200x200', 'w800', 'h600' or 'original'.",
    )
    width: int | None = Field(None, ge=1, le=20_000)
    height: int | None = Field(None, ge=1, le=20_000)
    fit: Fit = Field(
        "inside",
        description="'inside': fits the box, aspect kept; 'cover': fills the box, the rest "
        "cropped; 'fill': stretched to the box (enlarged too, if need be). Neither width nor "
        "height: the original size.",
    )
    crop: Crop = Field(
        "centre",
        description="With 'cover', what is kept: the centre, or the most interesting part "
        "('attention': skin, saturation, edges; 'entropy': detail).",
    )
    enlarge: bool = Field(False, description="Make images smaller than the box larger.")

    @field_validator("name")
    @classmethod
    def _name_fits_file_names(cls, value: str | None) -> str | None:
        if value is not None and not LABEL.match(value):
            raise ValueError(
                "1-40 letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _box_for_the_fit(self) -> SizeParams:
        if self.fit != "inside" and not (self.width and self.height):
            raise ValueError(f"fit {self.fit!r} needs both width and height")
        return self

    def label(self) -> str:
        if self.name:
            return self.name
        if self.width and self.height:
            return f"{self.width}x{self.height}"
        if self.width:
            return f"w{self.width}"
        if self.height:
            return f"h{self.height}"
        return "original"


class WatermarkParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=200)
    position: Position = "bottom-right"
    opacity: float = Field(0.5, ge=0.05, le=1.0)
    scale: float = Field(
        0.04, ge=0.01, le=0.5, description="Text height as a fraction of the shorter side."
    )
    colour: str = Field("#ffffff", description="#rrggbb")

    @field_validator("text")
    @classmethod
    def _one_printable_line(cls, value: str) -> str:
        if any(ord(character) < 32 or ord(character) == 127 for character in value):
            raise ValueError("one line of printable text (no control characters)")
        if not value.strip():
            raise ValueError("the text is blank")
        return value

    @field_validator("colour")
    @classmethod
    def _hex_colour(cls, value: str) -> str:
        if not COLOUR.match(value):
            raise ValueError("a colour as #rrggbb, e.g. '#ffffff'")
        return value.lower()

    def rgb(self) -> tuple[int, int, int]:
        return (int(self.colour[1:3], 16), int(self.colour[3:5], 16), int(self.colour[5:7], 16))


def _default_sizes() -> list[SizeParams]:
    return [SizeParams.model_validate({"width": 200, "height": 200})]


class ImageProcessParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sizes: list[SizeParams] = Field(
        default_factory=_default_sizes,
        min_length=1,
        max_length=10,
        description="Each image is made into every size; each size's files go into a folder "
        "named after it.",
    )
    format: OutputFormat = Field(
        "same",
        description="Of the outputs. 'same' keeps JPEG, PNG, WebP and AVIF; GIF and TIFF "
        "become PNG.",
    )
    quality: int = Field(85, ge=1, le=100, description="JPEG, WebP and AVIF quality.")
    auto_rotate: bool = Field(True, description="Turn images upright by their EXIF orientation.")
    strip_metadata: bool = Field(
        True,
        description="Drop EXIF (GPS position, camera, dates), XMP and IPTC; the colour "
        "profile is kept so that colours stay right.",
    )
    watermark: WatermarkParams | None = None
    max_pixels: int | None = Field(
        None, ge=1, description="Larger images fail alone; at most the server's limit."
    )
    url_field: str = Field(
        "url", description="With a CSV / JSON Lines input: the field holding each image's URL."
    )
    name_field: str | None = Field(
        "name",
        description="With a CSV / JSON Lines input: an optional field naming each image's "
        "files (otherwise the URL's file name); the line number is put in front.",
    )

    @model_validator(mode="after")
    def _sizes_apart_within_limits(self) -> ImageProcessParams:
        labels = [size.label() for size in self.sizes]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(f"sizes: each size needs its own name; repeated: {repeated}")
        limit = settings.BULKYARD_IMAGE_MAX_PIXELS
        if self.max_pixels is not None and self.max_pixels > limit:
            raise ValueError(f"max_pixels may be at most {limit:,} on this server")
        return self

    def recipe(self) -> Recipe:
        from bulkyard.images.processing import Recipe, Size, Watermark

        watermark = self.watermark
        return Recipe(
            sizes=[
                Size(
                    label=size.label(),
                    width=size.width,
                    height=size.height,
                    fit=size.fit,
                    crop=size.crop,
                    enlarge=size.enlarge,
                )
                for size in self.sizes
            ],
            format=self.format,
            quality=self.quality,
            auto_rotate=self.auto_rotate,
            strip_metadata=self.strip_metadata,
            watermark=Watermark(
                text=watermark.text,
                position=watermark.position,
                opacity=watermark.opacity,
                scale=watermark.scale,
                colour=watermark.rgb(),
            )
            if watermark
            else None,
            max_pixels=self.max_pixels or settings.BULKYARD_IMAGE_MAX_PIXELS,
        )


@register
class ImageProcessKind(JobKind[ImageProcessParams]):
    """Resizes, crops, converts, strips, turns upright and watermarks each image
    of a ZIP; the outputs come back as one ZIP, with a report per image."""

    name = "image.process"
    title = "Image processing"
    description = (
        "Upload a ZIP of images (JPEG, PNG, WebP, AVIF, GIF, TIFF), or a CSV / JSON Lines "
        "file with a url column (downloaded under the outbound-call rules). Each image is turned "
        "upright by its EXIF orientation, made into every size asked for (fit inside a box, "
        "cover it with a crop, or fill it; the original size too), optionally watermarked "
        "with a line of text, and saved as JPEG, PNG, WebP or AVIF at the quality asked for, "
        "without EXIF/GPS metadata unless told to keep it. Output: one ZIP (GET "
        "/jobs/{id}/output/) with a folder per size: photos/cat.jpg becomes "
        "200x200/photos/cat.jpg and so on. The results are the per-image report: format, "
        "size and bytes before, and each output's size and bytes, or why the image failed "
        "(not an image, truncated or corrupt, too many pixels, an output too large, a file "
        "too large, an unsafe or repeated name, a failed download)."
    )
    params_model = ImageProcessParams
    input_formats = ("zip", "csv", "jsonl")
    chunk_size = 10
    max_chunk_size = 1000
    queue_class = "cpu"
    output_columns = ("name", "format", "width", "height", "bytes", "outputs", "bytes_out")

    def max_file_bytes(self) -> int:
        return int(settings.BULKYARD_IMAGE_MAX_FILE_BYTES)

    def columns_needed(self, params: ImageProcessParams) -> tuple[str, ...]:
        return (params.url_field,)

    def process_chunk(
        self, items: Iterable[Item], ctx: ChunkContext[ImageProcessParams]
    ) -> ChunkResult:
        recipe = ctx.params.recipe()
        result = ChunkResult()
        made = 0
        # Outputs are already compressed: stored as they are, not deflated again.
        with (
            contextlib.ExitStack() as stack,
            part_writer(job_id=ctx.job_id, sequence=ctx.chunk_sequence) as (part, sink),
            zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED, allowZip64=True) as archive,
        ):
            files = stack.enter_context(contextlib.closing(_image_files(items, ctx.params)))
            for item, file in files:
                if ctx.should_stop():
                    return ChunkResult()
                made_item = self.attempt(item, functools.partial(_made, file, recipe))
                if isinstance(made_item, ItemResultData):
                    result.items.append(made_item)
                    continue
                name, stem, content, source, renditions = made_item
                outputs = []
                for rendition in renditions:
                    # A folder per size: names stay apart whatever the
                    # sizes and files are called.
                    file_name = f"{rendition.label}/{stem}.{rendition.extension}"
                    archive.writestr(_member(file_name), rendition.data)
                    outputs.append(_output(file_name, rendition))
                made += len(outputs)
                result.items.append(
                    ItemResultData(
                        number=item.number,
                        succeeded=True,
                        output={
                            "name": name,
                            "format": source.format,
                            "width": source.width,
                            "height": source.height,
                            "bytes": len(content),
                            "outputs": outputs,
                            "bytes_out": sum(output["bytes"] for output in outputs),
                        },
                    )
                )
            archive.close()
            result.summary = self.summarize_chunk(result, ctx)
            if made:
                # Stored under a name no other run of this chunk uses; named in
                # the chunk's summary, which commits with the chunk: only
                # committed runs' outputs reach the job's ZIP.
                result.summary["part"] = part
        return result

    def summarize_chunk(
        self, result: ChunkResult, ctx: ChunkContext[ImageProcessParams]
    ) -> dict[str, Any]:
        totals: Counter[str] = Counter()
        formats: Counter[str] = Counter()
        for item in result.items:
            if item.succeeded:
                totals["images"] += 1
                totals["bytes_in"] += item.output["bytes"]
                totals["bytes_out"] += item.output["bytes_out"]
                totals["files"] += len(item.output["outputs"])
                formats[item.output["format"]] += 1
        return {
            "totals": dict(totals),
            "formats": dict(formats),
            "failures": failures_by_code(result),
        }

    def finish(self, ctx: FinishContext[ImageProcessParams]) -> FinishResult:
        summaries = ctx.chunk_summaries
        totals = summed_counts(summary.get("totals") for summary in summaries)
        parts = [summary["part"] for summary in summaries if summary.get("part")]
        output_file, size = "", 0
        if parts and not ctx.cancelled:
            output_file, size = zip_parts_merge(
                parts=parts, output_name=f"jobs/{ctx.owner_id}/outputs/images-{ctx.job_id}.zip"
            )
        bytes_in, bytes_out = totals.get("bytes_in", 0), totals.get("bytes_out", 0)
        summary = {
            "images": totals.get("images", 0),
            "files": totals.get("files", 0),
            "bytes_in": bytes_in,
            "bytes_out": bytes_out,
            "saved_percent": round(100 * (1 - bytes_out / bytes_in), 1) if bytes_in else 0.0,
            "formats": summed_counts(summary.get("formats") for summary in summaries),
            "failures": summed_counts(summary.get("failures") for summary in summaries),
            "zip_bytes": size,
        }
        return FinishResult(summary=summary, output_file=output_file)


ImageFile = tuple[str, str, bytes]  # name, stem of its outputs' names, content


def _image_files(
    items: Iterable[Item], params: ImageProcessParams
) -> Generator[tuple[Item, ImageFile | ItemError], None, None]:
    """Each item with its image: a file of the ZIP, or downloaded from the
    item's URL (a few at a time, the chunk's downloads sharing one pool)."""
    from bulkyard.images.fetching import CONCURRENCY, Downloader

    with Downloader() as downloader:
        waiting: list[tuple[Item, str, str]] = []
        for item in items:
            data = item.data
            if item.error is None and isinstance(data, dict) and not _from_zip(data):
                try:
                    waiting.append((item, *_url_and_stem(item, params)))
                except ItemError as exc:
                    yield item, exc
                if len(waiting) >= CONCURRENCY:
                    yield from _downloaded(waiting, downloader)
                    waiting = []
                continue
            yield item, _archived(item)
        yield from _downloaded(waiting, downloader)


def _downloaded(
    waiting: list[tuple[Item, str, str]], downloader: Downloader
) -> Iterator[tuple[Item, ImageFile | ItemError]]:
    if not waiting:
        return
    bodies = downloader.get([url for _, url, _ in waiting])
    for (item, url, stem), body in zip(waiting, bodies, strict=True):
        yield item, body if isinstance(body, ItemError) else (url, stem, body)


def _made(
    file: ImageFile | ItemError, recipe: Recipe
) -> tuple[str, str, bytes, Source, list[Rendition]]:
    from bulkyard.images.processing import render

    if isinstance(file, ItemError):
        raise file
    name, stem, content = file
    return name, stem, content, *render(content, recipe)


def _from_zip(data: dict[str, Any]) -> bool:
    return isinstance(data.get("content"), bytes)


def _archived(item: Item) -> ImageFile | ItemError:
    data = item.data
    if not (isinstance(data, dict) and _from_zip(data)):
        return ItemError("invalid_item", "an image is a file of a ZIP or a row with a URL")
    name = str(data["name"])
    return name, str(data.get("stem") or name), data["content"]


UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _url_and_stem(item: Item, params: ImageProcessParams) -> tuple[str, str]:
    """The item's URL, and its outputs' stem: its line number and its name
    (or the URL's file name), one path segment of safe characters."""
    url = item.data.get(params.url_field)
    if not isinstance(url, str) or not url.strip():
        raise ItemError("missing_url", f"the item has no URL in {params.url_field!r}")
    url = url.strip()
    given = item.data.get(params.name_field) if params.name_field else None
    label = str(given) if given not in (None, "") else urlsplit(url).path.rsplit("/", 1)[-1]
    label = UNSAFE_IN_NAME.sub("_", posixpath.splitext(label)[0]).strip("._")[:100] or "image"
    return url, f"{item.number}-{label}"


def _member(file_name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(file_name, date_time=time.localtime()[:6])
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16  # a plain readable file when unpacked
    return info


def _output(file_name: str, rendition: Rendition) -> dict[str, Any]:
    return {
        "size": rendition.label,
        "file": file_name,
        "format": rendition.format,
        "width": rendition.width,
        "height": rendition.height,
        "bytes": len(rendition.data),
    }
