"""The params of ``image.process``: the sizes, format, watermark and limits
asked for, checked without loading libvips (the web process validates them)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bulkyard.images.options import Crop, Fit, OutputFormat, Position

if TYPE_CHECKING:
    from bulkyard.images.processing import Recipe

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
        """What each image becomes; loads libvips (workers only, on first use)."""
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
