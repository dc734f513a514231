"""The choices an image job offers, apart from libvips so that the web process can
validate params without loading it."""

from typing import Literal

Fit = Literal["inside", "cover", "fill"]
Crop = Literal["centre", "attention", "entropy"]
OutputFormat = Literal["same", "jpeg", "png", "webp", "avif"]
Position = Literal[
    "top-left",
    "top",
    "top-right",
    "left",
    "centre",
    "right",
    "bottom-left",
    "bottom",
    "bottom-right",
]
