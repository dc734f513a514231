"""What one image becomes: sizes, fits, rotation, metadata, formats, watermark, refusals."""

import io
import time

import pytest

from bulkyard.images.processing import ImageFailure, Recipe, Size, Watermark, inspect, render
from tests.support.files import GPS_INFO, image, opened

BLUE = (0, 0, 255)


def _one(content: bytes, size: Size, **recipe):
    _, [rendition] = render(content, Recipe(sizes=[size], **recipe))
    return rendition


def _size(width=None, height=None, **options) -> Size:
    return Size(label="out", width=width, height=height, **options)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (_size(200, 200), (200, 133)),
        (_size(300), (300, 200)),
        (_size(height=100), (150, 100)),
        (_size(100, 100, fit="cover"), (100, 100)),
        (_size(100, 50, fit="fill"), (100, 50)),
        (_size(), (600, 400)),
        (_size(2000, 2000), (600, 400)),
        (_size(1200, 1200, enlarge=True), (1200, 800)),
    ],
    ids=["inside", "width", "height", "cover", "fill", "original", "no-enlarge", "enlarge"],
)
def test_each_fit_gives_the_size_it_promises(size, expected):
    rendition = _one(image(600, 400), size)

    assert (rendition.width, rendition.height) == expected
    assert opened(rendition.data).size == expected


def test_several_sizes_come_from_one_image_in_the_order_asked():
    sizes = [
        Size(label="large", width=400, height=400),
        Size(label="square", width=50, height=50, fit="cover"),
        Size(label="small", width=100, height=100),
    ]

    _, renditions = render(image(600, 400), Recipe(sizes=sizes))

    assert [(r.label, r.width, r.height) for r in renditions] == [
        ("large", 400, 267),
        ("square", 50, 50),
        ("small", 100, 67),
    ]


def test_an_image_is_turned_upright_by_its_exif_orientation():
    # Orientation 6: the stored picture must turn a quarter clockwise to be seen
    # upright, so the marker in the stored top-left corner ends top-right.
    rendition = _one(image(600, 400, orientation=6), _size(300, 300))

    picture = opened(rendition.data).convert("RGB")
    assert picture.size == (200, 300)
    assert _near(picture.getpixel((picture.width - 5, 5)), BLUE)
    assert not _near(picture.getpixel((5, 5)), BLUE)


def test_without_auto_rotate_the_picture_stays_as_stored():
    rendition = _one(image(600, 400, orientation=6), _size(300, 300), auto_rotate=False)

    assert (rendition.width, rendition.height) == (300, 200)


def test_stripping_metadata_drops_exif_and_the_gps_position():
    rendition = _one(image(600, 400, gps=True), _size(100))

    assert not opened(rendition.data).getexif()


def test_metadata_is_kept_when_asked():
    rendition = _one(image(600, 400, gps=True), _size(100), strip_metadata=False)

    assert GPS_INFO in opened(rendition.data).getexif()


@pytest.mark.parametrize(
    ("wanted", "pillow_format"),
    [("jpeg", "JPEG"), ("png", "PNG"), ("webp", "WEBP"), ("avif", "AVIF")],
)
def test_outputs_are_written_in_the_format_asked(wanted, pillow_format):
    rendition = _one(image(300, 200), _size(100), format=wanted)

    assert opened(rendition.data).format == pillow_format
    assert rendition.format == wanted


@pytest.mark.parametrize(
    ("source_format", "expected"),
    [("JPEG", "jpeg"), ("PNG", "png"), ("WEBP", "webp"), ("GIF", "png"), ("TIFF", "png")],
)
def test_the_same_format_keeps_web_formats_and_makes_the_others_png(source_format, expected):
    rendition = _one(image(300, 200, format=source_format), _size(100))

    assert rendition.format == expected
    assert opened(rendition.data).format == expected.upper()


def test_transparency_becomes_white_in_a_jpeg_and_stays_in_a_png():
    transparent = image(100, 100, format="PNG", mode="RGBA", colour=(0, 0, 0, 0))

    as_jpeg = opened(_one(transparent, _size(50), format="jpeg").data)
    as_png = opened(_one(transparent, _size(50), format="png").data)

    assert _near(as_jpeg.convert("RGB").getpixel((40, 40)), (255, 255, 255))
    assert as_png.mode == "RGBA"
    assert as_png.getpixel((40, 40))[3] == 0


def test_a_lower_quality_makes_a_smaller_file():
    photo = image(800, 600, noise=True)

    low = _one(photo, _size(400), quality=30)
    high = _one(photo, _size(400), quality=95)

    assert len(low.data) < len(high.data) / 2


def test_a_watermark_marks_its_corner_and_leaves_the_rest_alone():
    plain_photo = image(400, 300, colour=(30, 30, 30))
    watermark = Watermark(text="© Bulkyard", opacity=1.0, scale=0.1, colour=(255, 255, 255))

    plain = opened(_one(plain_photo, _size()).data).convert("L")
    marked = opened(_one(plain_photo, _size(), watermark=watermark).data).convert("L")

    corner = (250, 240, 400, 300)
    assert _brightest(marked, corner) > 200
    assert _brightest(plain, corner) < 60
    assert _brightest(marked, (150, 0, 400, 200)) < 60


def test_watermark_text_is_shown_as_typed_not_read_as_markup():
    dark = image(1200, 400, colour=(0, 0, 0))

    def drawn_width(text: str) -> int:
        watermark = Watermark(text=text, opacity=1.0, scale=0.1, position="top-left")
        marked = opened(_one(dark, _size(), watermark=watermark).data).convert("L")
        left, _, right, _ = marked.point(lambda value: 255 if value > 128 else 0).getbbox()
        return right - left

    # As markup, "<b>MM</b>" would be drawn as "MM" (in bold).
    assert drawn_width("<b>MM</b>") > 3 * drawn_width("MM")


def test_a_long_watermark_on_a_large_image_is_fitted_not_failed():
    watermark = Watermark(text="© " + "very long credit line " * 9, scale=0.5)

    rendition = _one(image(3000, 2000), _size(), watermark=watermark)

    assert (rendition.width, rendition.height) == (3000, 2000)


def test_an_output_with_more_pixels_than_allowed_fails_before_it_is_made():
    with pytest.raises(ImageFailure) as failure:
        render(
            image(10, 10),
            Recipe(sizes=[_size(20_000, 20_000, fit="fill")], max_pixels=100_000_000),
        )

    assert failure.value.code == "output_too_large"
    assert "20,000 x 20,000" in failure.value.message


def test_an_output_the_format_cannot_hold_fails_as_an_encoding_error():
    # WebP stops at 16,383 pixels a side.
    with pytest.raises(ImageFailure) as failure:
        render(image(10, 10), Recipe(sizes=[_size(17_000, 10, fit="fill")], format="webp"))

    assert failure.value.code == "encode_failed"


@pytest.mark.parametrize("position", ["top-left", "centre", "bottom"])
def test_a_watermark_goes_where_it_is_placed(position):
    watermark = Watermark(text="MARK", opacity=1.0, scale=0.1, position=position)
    dark = image(400, 300, colour=(0, 0, 0))

    marked = opened(_one(dark, _size(), watermark=watermark).data).convert("L")

    areas = {
        "top-left": (0, 0, 200, 100),
        "centre": (100, 100, 300, 200),
        "bottom": (100, 200, 300, 300),
    }
    assert _brightest(marked, areas[position]) > 200
    others = [box for name, box in areas.items() if name != position]
    assert all(_brightest(marked, box) < 60 for box in others)


def test_an_image_with_more_pixels_than_allowed_fails_before_it_is_decoded():
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(buffer, "PNG")  # 400 million pixels in ~50 kB
    started = time.perf_counter()

    with pytest.raises(ImageFailure) as failure:
        render(buffer.getvalue(), Recipe(sizes=[_size(100)], max_pixels=100_000_000))

    assert failure.value.code == "too_many_pixels"
    assert "20,000 x 20,000" in failure.value.message
    assert time.perf_counter() - started < 1.0


def test_a_truncated_image_fails_rather_than_coming_out_grey():
    photo = image(1200, 800, noise=True)

    with pytest.raises(ImageFailure) as failure:
        render(photo[: len(photo) // 2], Recipe(sizes=[_size(1000)]))

    assert failure.value.code == "corrupt_image"
    assert "premature end" in failure.value.message.lower()


@pytest.mark.parametrize(
    "content",
    [
        b"just some text",
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>',
        b"BM" + b"\0" * 100,
        b"",
    ],
    ids=["text", "svg", "bmp-header", "empty"],
)
def test_what_is_not_an_allowed_image_fails_as_not_an_image(content):
    with pytest.raises(ImageFailure) as failure:
        inspect(content, max_pixels=10_000)

    assert failure.value.code == "not_an_image"


def _brightest(picture, box) -> int:
    return picture.crop(box).getextrema()[1]


def _near(pixel, colour, tolerance=40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


def test_sizes_of_a_base_too_large_to_share_are_decoded_from_the_file_each(monkeypatch):
    from bulkyard.images import processing

    sizes = [
        Size(label="original", width=None, height=None),
        Size(label="square", width=50, height=50, fit="cover"),
        Size(label="small", width=100, height=100),
    ]
    photo = image(600, 400, orientation=6)
    _, shared = render(photo, Recipe(sizes=sizes))
    monkeypatch.setattr(processing, "SHARED_BASE_BYTES", 1000)

    _, separate = render(photo, Recipe(sizes=sizes))

    dimensions = [(r.label, r.width, r.height) for r in separate]
    assert dimensions == [("original", 400, 600), ("square", 50, 50), ("small", 67, 100)]
    assert dimensions == [(r.label, r.width, r.height) for r in shared]
    assert _near(opened(separate[2].data).convert("RGB").getpixel((62, 3)), BLUE)
