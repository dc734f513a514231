"""Every accepted job ends by itself: the hostile-input corpus through every
kind that reads input, end to end.

Each file of the corpus (``tests/support/inputs.py``), plain and
gzip-compressed, is uploaded through the API for every kind that reads CSV /
JSON Lines, and a ZIP of hostile members for the kinds that read ZIPs. All
the jobs are submitted together to one real worker and awaited together (one
by one, the matrix would take minutes); each test then checks one upload,
from what was recorded once every job had ended:

- the upload got a clear 400 in the error shape and no job, or its job reached
  a final status by itself, within a bound;
- each well-formed row succeeded, or failed for the kind's own reason; each
  bad row failed alone, naming its line; the counts add up and no chunk
  failed or raised (which would mean one row's content broke its chunk);
- what the kind did outside the engine is exactly what its good rows asked
  for: the rows data.import wrote, the emails the SMTP server got, the
  requests and webhooks the HTTP server got, the documents in text.process's
  file, the images in image.process's ZIP. A line inside a quoted field is
  never a row anywhere.
"""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.management import call_command
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from bulkyard.core.emails import is_email, normalise_email
from bulkyard.data.models import Contact
from bulkyard.jobs import registry
from bulkyard.jobs.inputs import READER_ERROR_CODES
from bulkyard.jobs.models import Chunk, ItemResult, Job
from tests.factories import UserFactory
from tests.support.files import image, zip_members
from tests.support.http import HttpTestServer
from tests.support.inputs import CORPUS, Hostile
from tests.support.jobs import FINISHED, may_use_contacts, submit_file
from tests.support.smtp import RecordingHandler

# The tests read what the module's fixture recorded; the mark is for the test
# database to be set up for it (and each test runs in a transaction, not a
# flush of every table).
pytestmark = [pytest.mark.integration, pytest.mark.django_db]

# Every accepted job must have ended by itself within this, all of them
# running together on one worker of two processes.
ENDED_WITHIN_SECONDS = 120
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
# A line inside a quoted field of the corpus that reads like a row of its own.
MALLORY = "m@"


# --- What each kind should make of a well-formed row ---------------------------
#
# A verdict is None where the row succeeds, or the code it fails with for the
# kind's own documented reason. Each function gets every well-formed row of a
# file, (line, data), in order, for kinds whose verdict depends on earlier rows.

Rows = list[tuple[int, Any]]
Verdicts = dict[int, str | None]


def _document(data: Any) -> str | None:
    """text.stats, text.process: the document is the row's ``name``."""
    if not isinstance(data, dict):
        return "invalid_item"
    if "name" not in data:
        return "missing_field"
    return None if isinstance(data["name"], str) else "invalid_type"


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)


def _contact(data: Any) -> str | None:
    """data.import into contacts: email and name required, as the model says."""
    if not isinstance(data, dict):
        return "invalid_item"
    if set(data) - {"email", "name", "age", "city", "amount"}:
        return "unknown_fields"
    email, name = _text(data.get("email")), _text(data.get("name"))
    if not email:
        return "missing_value"
    if len(email) > 254 or not is_email(email):
        return "invalid_value"
    if not name:
        return "missing_value"
    return "invalid_value" if len(name) > 200 else None


def _breaks_line(text: str) -> bool:
    """Whether ``text`` holds anything ``str.splitlines`` ends a line at."""
    return "".join(text.splitlines()) != text


def _recipients(rows: Rows, fmt: str) -> Verdicts:
    """email.send: an address per row, nobody twice, no line break in the
    subject (it renders the row's name)."""
    verdicts: Verdicts = {}
    seen: set[str] = set()
    for number, data in rows:
        verdicts[number] = _recipient(data, seen)
    return verdicts


def _recipient(data: Any, seen: set[str]) -> str | None:
    if not isinstance(data, dict):
        return "invalid_item"
    value = data.get("email")
    if not isinstance(value, str) or not value.strip():
        return "missing_address"
    address = value.strip()
    if _breaks_line(address) or not is_email(address):
        return "invalid_address"
    if normalise_email(address) in seen:
        return "duplicate_recipient"
    seen.add(normalise_email(address))
    return "invalid_message" if _breaks_line(str(data.get("name", ""))) else None


# What a header value may not hold (RFC 9110): control characters but the tab.
CONTROLS = {chr(code) for code in [*range(0x20), 0x7F]} - {"\t"}


def _request(data: Any) -> str | None:
    """http.request: a template that sends the row's name in a header, and its
    name and email in a JSON body; a header value holds no control character
    but the tab."""
    if not isinstance(data, dict):
        return "invalid_item"
    if "name" not in data:
        return "missing_value"
    name = data["name"] if isinstance(data["name"], str) else json.dumps(data["name"])
    if any(character in CONTROLS for character in name):
        return "invalid_headers"
    return None if "email" in data else "missing_value"


def _webhooks(rows: Rows, fmt: str) -> Verdicts:
    """webhook.send: any object is a payload; a CSV row's name is its delivery
    id too (a header: no control character)."""
    return {number: _webhook(data, named=fmt == "csv") for number, data in rows}


def _webhook(data: Any, *, named: bool) -> str | None:
    if not isinstance(data, dict):
        return "invalid_item"
    if named and not data.get("name"):
        return "missing_value"
    if named and any(character in CONTROLS for character in str(data["name"])):
        return "invalid_value"
    return None


def _image_url(data: Any) -> str | None:
    """image.process with the ``email`` column as the URL: never one."""
    if not isinstance(data, dict):
        return "invalid_item"
    url = data.get("email")
    if not isinstance(url, str) or not url.strip():
        return "missing_url"
    return "invalid_url"


def _each(verdict: Callable[[Any], str | None]) -> Callable[[Rows, str], Verdicts]:
    return lambda rows, fmt: {number: verdict(data) for number, data in rows}


@dataclass(frozen=True)
class KindUnderTest:
    # (upload tag, base URL of the HTTP test server, input format) -> params
    params: Callable[[str, str, str], dict[str, Any]]
    # (well-formed rows, input format) -> verdicts
    verdicts: Callable[[Rows, str], Verdicts]
    # data.import: the file's addresses get a domain of their own per upload,
    # so that concurrent imports into the one contacts table keep apart.
    own_domain: bool = False


KINDS = {
    "text.stats": KindUnderTest(
        params=lambda tag, url, fmt: {"text_field": "name", "id_field": "email"},
        verdicts=_each(_document),
    ),
    "text.process": KindUnderTest(
        # The file in the input's format: both writers get hostile text.
        params=lambda tag, url, fmt: {
            "text_field": "name",
            "id_field": "email",
            "format": "csv" if fmt == "csv" else "jsonl",
        },
        verdicts=_each(_document),
    ),
    "data.import": KindUnderTest(
        params=lambda tag, url, fmt: {"target": "contacts"},
        verdicts=_each(_contact),
        own_domain=True,
    ),
    "email.send": KindUnderTest(
        params=lambda tag, url, fmt: {
            "subject": f"Corpus {tag}: hello {{{{ name }}}}",
            "text": "Hi {{ name }}, this is for {{ email }}.",
        },
        verdicts=_recipients,
    ),
    "http.request": KindUnderTest(
        params=lambda tag, url, fmt: {
            "request": {
                "method": "POST",
                "url": f"{url}/echo?run={tag}",
                "headers": {"X-Row-Name": "{name}"},
                "json": {"name": "{name}", "email": "{email}"},
            }
        },
        verdicts=_each(_request),
    ),
    "webhook.send": KindUnderTest(
        params=lambda tag, url, fmt: {
            "url": f"{url}/webhook?run={tag}",
            "secret": SECRET,
            # Every CSV row has a name; many JSON Lines rows have none.
            "id_field": "name" if fmt == "csv" else None,
        },
        verdicts=_webhooks,
    ),
    "image.process": KindUnderTest(
        params=lambda tag, url, fmt: {
            "sizes": [{"name": "thumb", "width": 32, "height": 32}],
            "url_field": "email",
            "name_field": "name",
        },
        verdicts=_each(_image_url),
    ),
}


# --- The hostile ZIP -----------------------------------------------------------


ZIP_MEMBERS = [
    ("good.jpg", image(60, 40)),
    ("empty.jpg", b""),
    ("truncated.jpg", image(300, 200, noise=True)[:3000]),
    ("notes.txt", b"Plain words, not a picture. Words again.\n"),
    ("../escape.jpg", image(60, 40)),
    ("nul.txt", b"text with a \x00 NUL in it\n"),
    ("/absolute.txt", b"an absolute name\n"),
    ("C:/drive.txt", b"a drive letter\n"),
    ("a/../../up.txt", b"climbs out\n"),
    ("latin1.txt", "café".encode("latin-1")),
    ("surrogate.txt", b"a lone surrogate \xed\xa0\x80 as UTF-8 bytes"),
    ("utf16.txt", "in UTF-16".encode("utf-16")),
    ("bom-only.txt", b"\xef\xbb\xbf"),
    ("page.html", b"<p>Hello <b>world</b>, hello again.</p>"),
]
UNSAFE_NAMES = {"../escape.jpg", "/absolute.txt", "C:/drive.txt", "a/../../up.txt"}
# The items: the members in archive order, then good.jpg again.
ZIP_NAMES = [name for name, _ in ZIP_MEMBERS] + ["good.jpg"]
# What each kind makes of each member whose name the reader lets through.
ZIP_KINDS: dict[str, dict[str, str | None]] = {
    "image.process": {
        "good.jpg": None,
        "empty.jpg": "not_an_image",
        "truncated.jpg": "corrupt_image",
        "notes.txt": "not_an_image",
        "nul.txt": "not_an_image",
        "latin1.txt": "not_an_image",
        "surrogate.txt": "not_an_image",
        "utf16.txt": "not_an_image",
        "bom-only.txt": "not_an_image",
        "page.html": "not_an_image",
    },
    "text.process": {
        "good.jpg": "unsupported_file",
        "empty.jpg": "unsupported_file",
        "truncated.jpg": "unsupported_file",
        "notes.txt": None,
        "nul.txt": None,  # a file, not a database, receives the text
        "latin1.txt": "invalid_encoding",
        "surrogate.txt": "invalid_encoding",
        "utf16.txt": "invalid_encoding",
        "bom-only.txt": None,
        "page.html": None,
    },
}


def _hostile_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in ZIP_MEMBERS:
            archive.writestr(name, content)
        # Not items: skipped by the reader.
        archive.writestr("__MACOSX/._good.jpg", b"\x00\x05\x16\x07")
        archive.writestr(".hidden.txt", b"hidden")
        archive.writestr("folder/", b"")
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.writestr("good.jpg", image(300, 200, noise=True))
    return buffer.getvalue()


def _zip_item(number: int, name: str, kind: str) -> str:
    if number == len(ZIP_NAMES):
        return "duplicate_name"
    if name in UNSAFE_NAMES:
        return "unsafe_name"
    return ZIP_KINDS[kind][name] or "succeeded"


ZIP = "hostile ZIP"


# --- The matrix ----------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    kind: str
    case: str  # a name of the corpus, or ZIP
    compressed: bool = False

    def __str__(self) -> str:
        return f"{self.kind}-{self.case}-{'gzip' if self.compressed else 'plain'}"

    @property
    def hostile(self) -> Hostile:
        return CORPUS[self.case]


UPLOADS = [
    Upload(kind, case, compressed)
    for kind in KINDS
    for case in CORPUS
    for compressed in (False, True)
] + [Upload(kind, ZIP) for kind in ZIP_KINDS]


# Each upload's own mark: in its email subjects, its request URLs, the
# domain of its imported addresses.
TAGS = {upload: f"u{number}" for number, upload in enumerate(UPLOADS)}


def _tag(upload: Upload) -> str:
    return TAGS[upload]


def _own_domain(value: Any, tag: str) -> Any:
    if isinstance(value, str):
        return value.replace("@example.com", f"@{tag}.example.com")
    if isinstance(value, dict):
        return {key: _own_domain(item, tag) for key, item in value.items()}
    if isinstance(value, list):
        return [_own_domain(item, tag) for item in value]
    return value


def _content(upload: Upload) -> bytes:
    if upload.case == ZIP:
        return _hostile_zip()
    content = upload.hostile.content
    if KINDS[upload.kind].own_domain:
        content = content.replace(b"@example.com", f"@{_tag(upload)}.example.com".encode())
    return gzip.compress(content) if upload.compressed else content


def _rows(upload: Upload) -> tuple[Rows, dict[int, str]]:
    """The file's well-formed rows, and the reader's error code of each bad one."""
    rows: Rows = []
    bad: dict[int, str] = {}
    for number, read in upload.hostile.items:
        if isinstance(read, str) and read in READER_ERROR_CODES:
            bad[number] = read
        else:
            own = KINDS[upload.kind].own_domain
            rows.append((number, _own_domain(read, _tag(upload)) if own else read))
    return rows, bad


def _expected_items(upload: Upload) -> dict[int, str]:
    """Each item's end: "succeeded" or its failure code."""
    if upload.case == ZIP:
        return {
            number: _zip_item(number, name, upload.kind)
            for number, name in enumerate(ZIP_NAMES, start=1)
        }
    rows, bad = _rows(upload)
    verdicts = KINDS[upload.kind].verdicts(rows, upload.hostile.fmt)
    return {
        **{number: code or "succeeded" for number, code in verdicts.items()},
        **bad,
    }


# --- Submitting everything, recording what happened ----------------------------


@dataclass
class Seen:
    """What one upload came to, recorded once every job had ended."""

    status_code: int
    # The error of a refused upload.
    error: dict[str, Any] | None = None
    # The job of an accepted one: status, error_code, error_message, counts.
    job: dict[str, Any] | None = None
    # item number -> (code, message) of each failure
    failures: dict[int, tuple[str, str]] = field(default_factory=dict)
    # item number -> output of each success the kind stores
    successes: dict[int, Any] = field(default_factory=dict)
    # (sequence, status, error message) of each chunk
    chunks: list[tuple[int, str, str]] = field(default_factory=list)
    # The job's output file (text.process, image.process).
    output: bytes = b""


HEADERS = {"X-Row-Name", "webhook-id"}


@dataclass
class World:
    """Every upload's end, and what reached the world outside the engine."""

    seen: dict[Upload, Seen]
    jobs_created: int
    contacts: list[tuple[str, str, int | None, str, str]]
    emails: list[tuple[str, str]]  # (recipient, subject)
    # (path, body, the X-Row-Name and webhook-id headers it had)
    hits: list[tuple[str, bytes, dict[str, str]]]


def _selected(request: pytest.FixtureRequest) -> list[Upload]:
    """The uploads of the tests selected in this run (all, if a test over all
    of them is selected): ``-k`` on one kind submits that kind's jobs only."""
    chosen: set[Upload] = set()
    for item in request.session.items:
        if getattr(item, "module", None) is not request.module:
            continue
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "upload" not in params:
            return UPLOADS
        chosen.add(params["upload"])
    return [upload for upload in UPLOADS if upload in chosen]


@pytest.fixture(scope="module")
def world(
    request, django_db_blocker, _session_worker, worker_env, _session_smtp, _session_http
) -> World:
    uploads = _selected(request)
    unthrottled = {**SimpleRateThrottle.THROTTLE_RATES, "user": None, "job_create": None}
    with (
        django_db_blocker.unblock(),
        pytest.MonkeyPatch.context() as patch,
        override_settings(
            MEDIA_ROOT=worker_env["DJANGO_MEDIA_ROOT"],
            BULKYARD_HTTP_ALLOWED_HOSTS=[f"127.0.0.1:{_session_http.port}"],
        ),
    ):
        # Hundreds of jobs a minute from one user: the throttle would refuse most.
        patch.setattr(SimpleRateThrottle, "THROTTLE_RATES", unthrottled)
        proc = _session_worker.proc
        if proc is None or proc.poll() is not None:
            _session_worker.start()
        _session_smtp.handler.reset()
        _session_http.reset()
        try:
            return _run_all(uploads, http=_session_http, smtp=_session_smtp.handler)
        finally:
            # Nothing of these jobs may be left for the tests that follow.
            call_command("flush", verbosity=0, interactive=False)


def _run_all(uploads: list[Upload], *, http: HttpTestServer, smtp: RecordingHandler) -> World:
    user: Any = UserFactory()
    may_use_contacts(user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    seen: dict[Upload, Seen] = {}
    job_ids: dict[Upload, str] = {}
    for upload in uploads:
        fmt = "zip" if upload.case == ZIP else upload.hostile.fmt
        response = submit_file(
            client,
            _content(upload),
            name=f"items.{fmt}" + (".gz" if upload.compressed else ""),
            kind=upload.kind,
            params=json.dumps(KINDS[upload.kind].params(_tag(upload), http.url, fmt)),
            # Two items a chunk: a bad row shares its chunk with a good one,
            # and chunks start at the record boundaries planning found.
            chunk_size="2",
        )
        body = response.json()
        seen[upload] = Seen(response.status_code, error=body.get("error"))
        if response.status_code == 202:
            job_ids[upload] = body["id"]
    _wait_until_ended(set(job_ids.values()))
    for upload, job_id in job_ids.items():
        _record(seen[upload], Job.objects.get(pk=job_id))
    return World(
        seen=seen,
        jobs_created=Job.objects.filter(owner=user).count(),
        contacts=_contacts(),
        emails=[
            (recipient, str(message.message["Subject"]))
            for message in smtp.received
            for recipient in message.recipients
        ],
        hits=[
            (hit.path, hit.body, {k: v for k, v in hit.headers.items() if k in HEADERS})
            for hit in http.hits()
        ],
    )


def _wait_until_ended(job_ids: set[str]) -> None:
    """Until every job has a final status, or the bound has passed (the tests
    then name the jobs that did not end)."""
    deadline = time.monotonic() + ENDED_WITHIN_SECONDS
    while time.monotonic() < deadline:
        if not Job.objects.filter(pk__in=job_ids).exclude(status__in=FINISHED).exists():
            return
        time.sleep(0.25)


def _record(record: Seen, job: Job) -> None:
    record.job = {
        "status": job.status,
        "error_code": job.error_code,
        "error_message": job.error_message,
        "counts": (job.total_items, job.processed_items, job.succeeded_items, job.failed_items),
    }
    for result in ItemResult.objects.filter(job=job):
        if result.outcome == "failed":
            record.failures[result.item_number] = (result.code, result.message)
        else:
            record.successes[result.item_number] = result.output
    record.chunks = list(
        Chunk.objects.filter(job=job).values_list("sequence", "status", "error_message")
    )
    if job.output_file:
        with job.output_file.open("rb") as output:
            record.output = output.read()


def _contacts() -> list[tuple[str, str, int | None, str, str]]:
    return [
        (contact.email, contact.name, contact.age, contact.city, str(contact.amount))
        for contact in Contact.objects.all()
    ]


# --- The tests -----------------------------------------------------------------


def _accepted(world: World, upload: Upload) -> Seen:
    seen = world.seen[upload]
    assert seen.status_code == 202, seen.error
    assert seen.job is not None
    assert seen.job["status"] in FINISHED, f"{upload} did not end by itself: {seen.job}"
    return seen


SNIFFED = [u for u in UPLOADS if u.case != ZIP and u.hostile.sniffed]
REJECTED = [u for u in UPLOADS if u.case != ZIP and not u.hostile.sniffed and u.hostile.rejected]
READ = [u for u in UPLOADS if u not in SNIFFED and u not in REJECTED]


def _ids(uploads: list[Upload]) -> list[str]:
    return [str(upload) for upload in uploads]


@pytest.mark.parametrize("upload", SNIFFED, ids=_ids(SNIFFED))
def test_an_upload_the_sniff_refuses_gets_a_400_in_the_error_shape(world, upload):
    seen = world.seen[upload]

    assert seen.status_code == 400
    assert seen.error is not None
    assert set(seen.error) == {"code", "message", "details"}
    assert seen.error["code"] == upload.hostile.sniffed
    assert seen.error["message"]


def test_only_accepted_uploads_have_a_job(world):
    accepted = [seen for seen in world.seen.values() if seen.status_code == 202]

    assert world.jobs_created == len(accepted)


@pytest.mark.parametrize("upload", REJECTED, ids=_ids(REJECTED))
def test_an_input_that_cannot_be_read_fails_its_job_with_the_reason(world, upload):
    seen = _accepted(world, upload)
    code, message = upload.hostile.rejected

    assert (seen.job["status"], seen.job["error_code"]) == ("failed", code)
    assert seen.job["error_message"].startswith(message)
    assert seen.chunks == []


@pytest.mark.parametrize("upload", READ, ids=_ids(READ))
def test_each_row_ends_as_its_reader_and_its_kind_say(world, upload):
    seen = _accepted(world, upload)
    expected = _expected_items(upload)
    failures = {number: code for number, (code, _) in seen.failures.items()}

    assert failures == {n: code for n, code in expected.items() if code != "succeeded"}
    if registry.get(upload.kind).stores_successes:
        assert sorted(seen.successes) == sorted(n for n, c in expected.items() if c == "succeeded")


@pytest.mark.parametrize("upload", READ, ids=_ids(READ))
def test_each_bad_rows_failure_names_its_line_or_member(world, upload):
    seen = _accepted(world, upload)

    if upload.case == ZIP:
        unnamed = [
            number
            for number, (code, message) in seen.failures.items()
            if code in ("unsafe_name", "duplicate_name")
            and repr(ZIP_NAMES[number - 1]) not in message
        ]
    else:
        _, bad = _rows(upload)
        unnamed = [
            number
            for number, (code, message) in seen.failures.items()
            if number in bad and not message.startswith(f"line {number}")
        ]
    assert unnamed == []


@pytest.mark.parametrize("upload", READ, ids=_ids(READ))
def test_the_counts_add_up_and_give_the_status(world, upload):
    seen = _accepted(world, upload)
    ends = Counter(
        "succeeded" if code == "succeeded" else "failed"
        for code in _expected_items(upload).values()
    )
    total, succeeded, failed = sum(ends.values()), ends["succeeded"], ends["failed"]
    status = "succeeded" if not failed else "failed" if not succeeded else "completed_with_errors"

    assert seen.job["counts"] == (total, total, succeeded, failed)
    assert seen.job["status"] == status


@pytest.mark.parametrize("upload", READ, ids=_ids(READ))
def test_no_chunk_fails_or_raises(world, upload):
    seen = _accepted(world, upload)

    # A chunk that raised is tried again, with its error kept: it may not
    # have raised even once.
    assert seen.chunks
    assert [chunk for chunk in seen.chunks if chunk[1:] != ("done", "")] == []


# --- What reached the world ----------------------------------------------------


def _of(kind: str) -> list[Upload]:
    return [upload for upload in READ if upload.kind == kind]


def _good_rows(upload: Upload) -> Rows:
    expected = _expected_items(upload)
    rows, _ = _rows(upload)
    return [(number, data) for number, data in rows if expected[number] == "succeeded"]


@pytest.mark.parametrize("upload", _of("data.import"), ids=_ids(_of("data.import")))
def test_data_import_writes_exactly_the_good_rows(world, upload):
    domain = f"@{_tag(upload)}.example.com"
    # A key repeated in the file: the last row wins.
    kept = {
        normalise_email(_text(row["email"])): _text(row["name"]) for _, row in _good_rows(upload)
    }

    written = sorted(contact for contact in world.contacts if contact[0].endswith(domain))

    assert written == sorted((email, name, None, "", "0.00") for email, name in kept.items())


@pytest.mark.parametrize("upload", _of("email.send"), ids=_ids(_of("email.send")))
def test_email_send_sends_each_good_recipient_one_message(world, upload):
    subject = f"Corpus {_tag(upload)}:"
    expected = [
        (normalise_email(row["email"].strip()), f"{subject} hello {row.get('name', '')}".strip())
        for _, row in _good_rows(upload)
    ]

    sent = [email for email in world.emails if email[1].startswith(subject)]

    assert sorted(sent) == sorted(expected)


def _bodies(world: World, path: str, header: str | None) -> list[str]:
    """The JSON bodies the HTTP server got at ``path``, canonical and sorted;
    with ``header`` (sent as UTF-8, read as Latin-1)."""
    return _canonical(
        [
            json.loads(body)
            | ({"header": headers[header].encode("latin-1").decode()} if header else {})
            for at, body, headers in world.hits
            if at == path
        ]
    )


def _canonical(values: list[Any]) -> list[str]:
    return sorted(json.dumps(value, sort_keys=True) for value in values)


@pytest.mark.parametrize("upload", _of("http.request"), ids=_ids(_of("http.request")))
def test_http_request_sends_each_good_row_once(world, upload):
    expected = [
        {"name": row["name"], "email": row["email"], "header": row["name"]}
        for _, row in _good_rows(upload)
    ]

    assert _bodies(world, f"/echo?run={_tag(upload)}", "X-Row-Name") == _canonical(expected)


@pytest.mark.parametrize("upload", _of("webhook.send"), ids=_ids(_of("webhook.send")))
def test_webhook_send_delivers_each_good_row_once(world, upload):
    named = upload.hostile.fmt == "csv"  # the name is the delivery id
    expected = [row | ({"header": row["name"]} if named else {}) for _, row in _good_rows(upload)]

    header = "webhook-id" if named else None
    assert _bodies(world, f"/webhook?run={_tag(upload)}", header) == _canonical(expected)


@pytest.mark.parametrize("upload", _of("text.stats"), ids=_ids(_of("text.stats")))
def test_text_stats_measures_each_good_rows_own_document(world, upload):
    expected = {number: (row.get("email"), len(row["name"])) for number, row in _good_rows(upload)}

    measured = {
        number: (output.get("id"), output["characters"])
        for number, output in world.seen[upload].successes.items()
    }

    assert measured == expected


def _documents(output: bytes) -> list[tuple[int, Any]]:
    """(item, id) of each row of a text.process output file."""
    if not output:
        return []
    if output.startswith(b"item,"):
        rows = csv.DictReader(io.StringIO(output.decode(), newline=""))
        return [(int(row["item"]), row["id"]) for row in rows]
    lines = [json.loads(line) for line in output.split(b"\n") if line]
    return [(row["item"], row["id"]) for row in lines]


TEXT_PROCESS = _of("text.process")


@pytest.mark.parametrize("upload", TEXT_PROCESS, ids=_ids(TEXT_PROCESS))
def test_text_process_writes_each_good_document_to_its_file_once(world, upload):
    if upload.case == ZIP:
        expected = [
            (number, ZIP_NAMES[number - 1])
            for number, code in _expected_items(upload).items()
            if code == "succeeded"
        ]
    else:
        expected = [(number, row.get("email")) for number, row in _good_rows(upload)]

    assert sorted(_documents(world.seen[upload].output)) == sorted(expected)


def test_image_process_zips_the_good_image_only(world):
    output = world.seen[Upload("image.process", ZIP)].output

    assert sorted(zip_members(output)) == ["thumb/good.jpg"]


def test_a_line_inside_a_quoted_field_reaches_no_kind(world):
    reached = [
        *(email for email, *_ in world.contacts),
        *(recipient for recipient, _ in world.emails),
        *(json.loads(body).get("email", "") for _, body, _ in world.hits),
        *(
            str(output.get("id"))
            for seen in world.seen.values()
            for output in seen.successes.values()
            if isinstance(output, dict)
        ),
    ]

    assert reached
    assert [address for address in reached if str(address).startswith(MALLORY)] == []
