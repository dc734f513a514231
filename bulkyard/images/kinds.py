"""The ``image.process`` job kind: each image of a ZIP or named by URL made into
every size asked for; the outputs come back as one ZIP, with a report per image."""

from __future__ import annotations

import contextlib
import functools
import time
import zipfile
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings

from bulkyard.images.params import ImageProcessParams
from bulkyard.images.sources import ImageFile, image_files
from bulkyard.jobs.sdk import (
    ChunkContext,
    ChunkResult,
    FinishContext,
    FinishResult,
    Item,
    ItemError,
    ItemResultData,
    JobKind,
    failures_by_code,
    part_writer,
    register,
    summed_counts,
    zip_parts_merge,
)

if TYPE_CHECKING:
    from bulkyard.images.processing import Recipe, Rendition, Source


@register
class ImageProcessKind(JobKind[ImageProcessParams]):
    """Resizes, crops, converts, strips, turns upright and watermarks each image
    of a ZIP; the outputs come back as one ZIP, with a report per image."""

    name = "image.process"
    title = "Image processing"
    example_params = {
        "sizes": [{"name": "thumb", "width": 200, "height": 200}],
        "format": "webp",
        "quality": 80,
    }
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
            files = stack.enter_context(contextlib.closing(image_files(items, ctx.params)))
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


def _made(
    file: ImageFile | ItemError, recipe: Recipe
) -> tuple[str, str, bytes, Source, list[Rendition]]:
    # Imported on first use, in workers: the web process never loads libvips.
    from bulkyard.images.processing import render

    if isinstance(file, ItemError):
        raise file
    name, stem, content = file
    return name, stem, content, *render(content, recipe)


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
