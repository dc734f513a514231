"""Files the tests upload: ZIP archives and generated images."""

import io
import zipfile
from typing import Any


def zip_of(files: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A ZIP archive holding ``files`` (name → content), in that order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def zip_members(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


ORIENTATION = 0x0112
GPS_INFO = 0x8825


def image(
    width: int,
    height: int,
    *,
    format: str = "JPEG",
    mode: str = "RGB",
    colour: Any = (200, 60, 30),
    orientation: int | None = None,
    gps: bool = False,
    noise: bool = False,
) -> bytes:
    """An image file made by Pillow: a flat colour with a marker block in its
    top-left corner (so that a rotation shows), or noise that compresses like a
    photo; EXIF orientation and a GPS position if asked."""
    from PIL import Image

    if noise:
        grey = Image.effect_noise((width, height), 60)
        picture = Image.merge(
            "RGB", (grey, grey.rotate(180), grey.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
        ).convert(mode)
    else:
        picture = Image.new(mode, (width, height), colour)
        marker = (0, 0, 255) if mode == "RGB" else None
        if marker:
            picture.paste(marker, (0, 0, max(1, width // 4), max(1, height // 4)))
    exif = Image.Exif()
    if orientation:
        exif[ORIENTATION] = orientation
    if gps:
        exif[GPS_INFO] = {1: "N", 2: (59.0, 54.0, 50.0), 3: "E", 4: (10.0, 45.0, 0.0)}
    buffer = io.BytesIO()
    options: dict[str, Any] = {"exif": exif} if format in ("JPEG", "WEBP", "PNG") else {}
    picture.save(buffer, format, **options)
    return buffer.getvalue()


def opened(content: bytes) -> Any:
    """The Pillow image of an output, loaded."""
    from PIL import Image

    picture = Image.open(io.BytesIO(content))
    picture.load()
    return picture
