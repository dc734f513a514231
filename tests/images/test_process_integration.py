"""image.process end to end: a ZIP through the API, a real worker, the output ZIP."""

import json
import subprocess
import sys

import pytest

from bulkyard.jobs.models import Chunk, ItemResult, JobStatus
from tests.support.files import GPS_INFO, image, opened, zip_members, zip_of
from tests.support.jobs import submit_file, wait_for_job, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SIZES = [
    {"name": "thumb", "width": 200, "height": 200},
    {"name": "square", "width": 100, "height": 100, "fit": "cover"},
]


def _submit(client, files: dict[str, bytes], *, chunk_size: int = 2, **params):
    return submit_file(
        client,
        zip_of(files),
        name="images.zip",
        kind="image.process",
        params=json.dumps({"sizes": SIZES, **params}),
        chunk_size=str(chunk_size),
    )


def _run(client, files: dict[str, bytes], **options):
    response = _submit(client, files, **options)
    assert response.status_code == 202, response.content
    return wait_for_job(response.json()["id"], timeout=90)


def _outputs(job) -> dict[str, bytes]:
    with job.output_file.open("rb") as archive:
        return zip_members(archive.read())


def test_a_zip_of_photos_comes_back_resized_upright_and_without_gps(api_client, worker):
    job = _run(
        api_client,
        {
            "photos/landscape.jpg": image(600, 400, gps=True),
            "photos/turned.jpg": image(600, 400, orientation=6),
            "art/logo.png": image(300, 300, format="PNG", mode="RGBA", colour=(0, 0, 0, 0)),
            "art/banner.webp": image(800, 200, format="WEBP"),
        },
    )

    assert job.status == JobStatus.SUCCEEDED
    sizes = {name: opened(content).size for name, content in _outputs(job).items()}
    assert sizes == {
        "thumb/photos/landscape.jpg": (200, 133),
        "square/photos/landscape.jpg": (100, 100),
        "thumb/photos/turned.jpg": (133, 200),
        "square/photos/turned.jpg": (100, 100),
        "thumb/art/logo.png": (200, 200),
        "square/art/logo.png": (100, 100),
        "thumb/art/banner.webp": (200, 50),
        "square/art/banner.webp": (100, 100),
    }
    outputs = _outputs(job)
    assert GPS_INFO not in opened(outputs["thumb/photos/landscape.jpg"]).getexif()
    assert opened(outputs["thumb/art/logo.png"]).mode == "RGBA"
    assert job.summary["images"] == 4
    assert job.summary["files"] == 8
    assert job.summary["formats"] == {"jpeg": 2, "png": 1, "webp": 1}


def test_the_report_has_each_image_before_and_after(api_client, worker):
    photo = image(600, 400)
    job = _run(api_client, {"a.jpg": photo})

    [report] = ItemResult.objects.filter(job=job)
    assert report.outcome == "succeeded"
    output = report.output
    assert (output["name"], output["format"], output["width"], output["height"]) == (
        "a.jpg",
        "jpeg",
        600,
        400,
    )
    assert output["bytes"] == len(photo)
    files = _outputs(job)
    assert [(o["file"], o["width"], o["height"], o["bytes"]) for o in output["outputs"]] == [
        ("thumb/a.jpg", 200, 133, len(files["thumb/a.jpg"])),
        ("square/a.jpg", 100, 100, len(files["square/a.jpg"])),
    ]
    assert output["bytes_out"] == sum(len(content) for content in files.values())
    csv_report = api_client.get(f"/api/v1/jobs/{job.pk}/results/?format=csv")
    assert csv_report.status_code == 200
    header = b"".join(csv_report.streaming_content).decode().splitlines()[0].split(",")
    columns = {"name", "format", "width", "height", "bytes", "outputs", "bytes_out"}
    assert {f"output.{column}" for column in columns} <= set(header)


def test_broken_files_fail_alone_with_their_reason(api_client, worker):
    from io import BytesIO

    from PIL import Image

    bomb = BytesIO()
    Image.new("1", (20_000, 20_000)).save(bomb, "PNG")
    photo = image(900, 600, noise=True)

    job = _run(
        api_client,
        {
            "good.jpg": image(300, 200),
            "truncated.jpg": photo[: len(photo) // 2],
            "notes.txt": b"not a picture",
            "vector.svg": b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>',
            "bomb.png": bomb.getvalue(),
            "../escape.jpg": image(300, 200),
        },
        chunk_size=3,
    )

    assert job.status == JobStatus.COMPLETED_WITH_ERRORS
    failures = {
        r.input["name"]: r.code for r in ItemResult.objects.filter(job=job, outcome="failed")
    }
    assert failures == {
        "truncated.jpg": "corrupt_image",
        "notes.txt": "not_an_image",
        "vector.svg": "not_an_image",
        "bomb.png": "too_many_pixels",
        "../escape.jpg": "unsafe_name",
    }
    assert sorted(_outputs(job)) == ["square/good.jpg", "thumb/good.jpg"]
    assert job.summary["failures"] == {
        "corrupt_image": 1,
        "not_an_image": 2,
        "too_many_pixels": 1,
        "unsafe_name": 1,
    }


def test_files_whose_names_would_clash_keep_apart_and_a_repeated_name_fails(api_client, worker):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("cat.jpg", "cat.png", "cat.jpg.png"):
            archive.writestr(name, image(300, 200))
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("cat.jpg", image(300, 200))
    response = submit_file(
        api_client,
        buffer.getvalue(),
        name="images.zip",
        kind="image.process",
        params=json.dumps({"sizes": SIZES[:1], "format": "jpeg"}),
    )
    job = wait_for_job(response.json()["id"])

    assert sorted(_outputs(job)) == [
        "thumb/cat.jpg.jpg",
        "thumb/cat.jpg.png.jpg",
        "thumb/cat.png.jpg",
    ]
    [repeated] = ItemResult.objects.filter(job=job, outcome="failed")
    assert (repeated.item_number, repeated.code) == (4, "duplicate_name")


def test_a_zip_bomb_of_images_is_refused_with_a_400(api_client):
    response = submit_file(
        api_client,
        zip_of({"bomb.jpg": b"\0" * 20_000_000}),
        name="images.zip",
        kind="image.process",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "zip_bomb"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sizes": [{"width": 100, "fit": "cover"}]}, "sizes.0"),
        ({"sizes": [{"width": 100}, {"width": 100, "height": 50, "name": "w100"}]}, "params"),
        ({"sizes": []}, "sizes"),
        ({"sizes": [{"name": "../x", "width": 10}]}, "sizes.0.name"),
        ({"format": "bmp"}, "format"),
        ({"quality": 0}, "quality"),
        ({"watermark": {"text": "a\nb"}}, "watermark.text"),
        ({"watermark": {"text": "   "}}, "watermark.text"),
        ({"watermark": {"text": "x", "colour": "red"}}, "watermark.colour"),
        ({"max_pixels": 10**12}, "params"),
    ],
)
def test_bad_params_get_a_400_naming_the_field_and_no_job(api_client, params, field):
    from bulkyard.jobs.models import Job

    response = submit_file(
        api_client,
        zip_of({"a.jpg": b"x"}),
        name="images.zip",
        kind="image.process",
        params=json.dumps(params),
    )

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_params"
    assert error["details"][0]["field"] == field
    assert not Job.objects.exists()


def test_a_worker_killed_mid_job_leaves_each_output_once_in_the_zip(api_client, worker):
    photos = {f"photos/p{n:02d}.jpg": image(1500, 1000, noise=True) for n in range(40)}
    response = _submit(api_client, photos, chunk_size=2)
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    chunks = Chunk.objects.filter(job_id=job_id)
    wait_until(
        lambda: (
            chunks.filter(status="done").count() >= 4 and chunks.filter(status="running").exists()
        ),
        timeout=60,
        message="a few chunks done and one running",
    )

    worker.kill_hard()
    worker.start()

    job = wait_for_job(job_id, timeout=180)
    assert job.status == JobStatus.SUCCEEDED
    assert job.succeeded_items == 40
    with job.output_file.open("rb") as archive:
        import zipfile

        names = zipfile.ZipFile(archive).namelist()
    assert len(names) == len(set(names)) == 80
    assert max(Chunk.objects.filter(job_id=job_id).values_list("attempts", flat=True)) >= 2


def test_the_web_process_never_loads_libvips():
    code = (
        "import django, sys; django.setup();"
        "from bulkyard.jobs import registry; registry.autodiscover();"
        "kind = registry.get('image.process');"
        "kind.parse_params({'sizes': [{'width': 10}], 'watermark': {'text': 'x'}});"
        "print('pyvips' in sys.modules)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()

    assert loaded == "False"


def _submit_urls(client, rows: list[dict[str, str]], **params):
    body = "\n".join(json.dumps(row) for row in rows).encode()
    return submit_file(
        client,
        body,
        name="images.jsonl",
        kind="image.process",
        params=json.dumps({"sizes": SIZES[:1], **params}),
    )


def test_images_named_by_url_are_downloaded_and_processed(api_client, worker, http_server):
    cat = http_server.serve("cat.jpg", image(600, 400))
    dog = http_server.serve("pets/dog.png", image(300, 600, format="PNG"))
    response = _submit_urls(
        api_client, [{"url": cat}, {"url": dog, "name": "best dog"}, {"url": cat}]
    )
    assert response.status_code == 202, response.content

    job = wait_for_job(response.json()["id"])

    assert job.status == JobStatus.SUCCEEDED
    sizes = {name: opened(content).size for name, content in _outputs(job).items()}
    assert sizes == {
        "thumb/1-cat.jpg": (200, 133),
        "thumb/2-best_dog.png": (100, 200),
        "thumb/3-cat.jpg": (200, 133),
    }
    report = ItemResult.objects.get(job=job, item_number=2).output
    assert (report["name"], report["format"], report["width"]) == (dog, "png", 300)


def test_a_url_that_fails_fails_its_image_alone(api_client, worker, http_server, canary):
    good = http_server.serve("good.jpg", image(300, 200))
    http_server.serve("big.jpg", image(300, 200) + b"\0" * 5_000_000)
    response = _submit_urls(
        api_client,
        [
            {"url": good},
            {"url": f"{http_server.url}/files/missing.jpg"},
            {"url": f"http://127.0.0.1:{canary.port}/secret.jpg"},
            {"url": "file:///etc/passwd"},
            {"url": f"{http_server.url}/files/big.jpg"},
            {"name": "no url"},
        ],
    )
    assert response.status_code == 202, response.content

    job = wait_for_job(response.json()["id"])

    codes = {r.item_number: r.code for r in ItemResult.objects.filter(job=job, outcome="failed")}
    assert codes == {
        2: "http_404",
        3: "destination_refused",
        4: "invalid_url",
        5: "item_too_large",
        6: "missing_url",
    }
    assert canary.hits() == 0
    assert sorted(_outputs(job)) == ["thumb/1-good.jpg"]


def test_failed_downloads_can_be_retried_once_the_image_is_there(api_client, worker, http_server):
    good = http_server.serve("a.jpg", image(300, 200))
    late = f"{http_server.url}/files/late.jpg"
    response = _submit_urls(api_client, [{"url": good}, {"url": late}])
    first = wait_for_job(response.json()["id"])
    assert (first.succeeded_items, first.failed_items) == (1, 1)
    http_server.serve("late.jpg", image(200, 300))

    retry = api_client.post(f"/api/v1/jobs/{first.pk}/retry/")

    assert retry.status_code == 202, retry.content
    second = wait_for_job(retry.json()["id"])
    assert second.status == JobStatus.SUCCEEDED
    assert sorted(_outputs(second)) == ["thumb/2-late.jpg"]
