"""email.send end to end: API upload, a real worker, a real SMTP server (aiosmtpd)."""

import io
import json
from collections import Counter

import pytest

from bulkyard.jobs.ledger import LedgerStatus
from bulkyard.jobs.models import ItemResult, JobStatus
from bulkyard.mail.models import EmailDelivery
from tests.support.jobs import submit_file, wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PARAMS = {
    "subject": "Order {{ order }} for {{ name }}",
    "text": "Dear {{ name }},\nyour order {{ order }} has shipped.",
    "html": "<p>Dear {{ name }}, order <b>{{ order }}</b> has shipped.</p>",
    "from_email": "Shop <shop@example.com>",
}


def _recipients(count: int, *, start: int = 0) -> bytes:
    rows = [f"user{n}@example.com,User {n},A-{n}" for n in range(start, start + count)]
    return ("email,name,order\n" + "\n".join(rows) + "\n").encode()


def _send(client, content: bytes, *, chunk_size: int = 5, **params):
    response = submit_file(
        client,
        content,
        name="recipients.csv",
        kind="email.send",
        params=json.dumps({**PARAMS, **params}),
        chunk_size=str(chunk_size),
    )
    assert response.status_code == 202, response.content
    return wait_for_job(response.json()["id"])


def _failures(job) -> dict[int, tuple[str, str]]:
    return {
        r.item_number: (r.code, r.message)
        for r in ItemResult.objects.filter(job=job, outcome="failed")
    }


def test_every_recipient_gets_one_message_rendered_for_them(api_client, worker, smtp):
    job = _send(api_client, _recipients(12))

    assert (job.status, job.succeeded_items) == (JobStatus.SUCCEEDED, 12)
    assert all(count == 1 for count in smtp.recipient_counts().values())
    [message] = smtp.messages_to("user7@example.com")
    assert message["Subject"] == "Order A-7 for User 7"
    assert message["From"] == "Shop <shop@example.com>"
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # CRLF on the wire
    assert text == "Dear User 7,\nyour order A-7 has shipped."
    assert "order <b>A-7</b>" in message.get_body(("html",)).get_content()


def test_the_report_gives_each_sent_message_its_message_id(api_client, worker, smtp):
    job = _send(api_client, _recipients(3))

    results = {r.item_number: r.output for r in ItemResult.objects.filter(job=job)}
    [message] = smtp.messages_to("user1@example.com")
    assert results[3]["recipient"] == "user1@example.com"
    assert results[3]["message_id"] == message["Message-ID"]


def test_variables_are_escaped_in_the_html_body_only(api_client, worker, smtp):
    content = b"email,name,order\nada@example.com,<script>x</script>,1\n"

    _send(api_client, content)

    [message] = smtp.messages_to("ada@example.com")
    assert "&lt;script&gt;" in message.get_body(("html",)).get_content()
    assert "<script>x</script>" in message.get_body(("plain",)).get_content()


def test_temporary_451_answers_are_retried_until_every_message_is_delivered_once(
    api_client, worker, smtp
):
    smtp.script.temporary_failures.update({"user2@example.com": 2, "user5@example.com": 1})

    job = _send(api_client, _recipients(8))

    assert (job.status, job.succeeded_items, job.failed_items) == (JobStatus.SUCCEEDED, 8, 0)
    assert smtp.recipient_counts() == {f"user{n}@example.com": 1 for n in range(8)}
    assert EmailDelivery.objects.get(job=job, recipient="user2@example.com").runs == 1


def test_a_refused_recipient_fails_alone_with_the_smtp_code(api_client, worker, smtp):
    smtp.script.refused.add("user3@example.com")

    job = _send(api_client, _recipients(6))

    assert (job.status, job.succeeded_items, job.failed_items) == (
        JobStatus.COMPLETED_WITH_ERRORS,
        5,
        1,
    )
    code, message = _failures(job)[5]
    assert code == "smtp_550"
    assert "Recipient address rejected" in message
    assert "user3@example.com" not in smtp.recipient_counts()
    delivery = EmailDelivery.objects.get(job=job, recipient="user3@example.com")
    assert (delivery.status, delivery.succeeded, delivery.smtp_code) == (
        LedgerStatus.DONE,
        False,
        550,
    )


def test_a_temporary_failure_that_never_clears_fails_that_recipient(
    api_client, worker, smtp, settings
):
    smtp.script.temporary_failures["user1@example.com"] = 100

    job = _send(api_client, _recipients(3))

    assert job.failed_items == 1
    assert _failures(job)[3][0] == "smtp_451"
    assert smtp.recipient_counts() == {"user0@example.com": 1, "user2@example.com": 1}


def test_invalid_and_repeated_addresses_are_reported_and_not_sent(api_client, worker, smtp):
    content = (
        b"email,name,order\n"
        b"ada@example.com,Ada,1\n"
        b"not-an-address,X,2\n"
        b"ADA@EXAMPLE.COM,Ada again,3\n"
        b",Nobody,4\n"
    )

    job = _send(api_client, content, chunk_size=2)

    failures = _failures(job)
    assert failures[3][0] == "invalid_address"
    assert failures[5][0] == "missing_address"
    # Lines 2 and 4 are in different chunks: whichever ran first keeps the
    # address, the other is the duplicate.
    assert {failures.get(2, ("sent",))[0], failures.get(4, ("sent",))[0]} == {
        "sent",
        "duplicate_recipient",
    }
    # The kept line's spelling is what was sent: count case-insensitively.
    sent = Counter(address.lower() for address in smtp.recipient_counts().elements())
    assert sent == {"ada@example.com": 1}


def test_a_subject_template_with_a_line_break_is_refused_before_the_job_exists(api_client):
    response = submit_file(
        api_client,
        _recipients(1),
        kind="email.send",
        params=json.dumps({**PARAMS, "subject": "Hi\nBcc: everyone@example.com"}),
    )

    assert response.status_code == 400
    assert "line break" in response.json()["error"]["message"]


def test_a_variable_with_a_line_break_cannot_forge_a_header(api_client, worker, smtp):
    content = b'email,name,order\nada@example.com,"Ada\nBcc: victim@example.com",1\n'

    job = _send(api_client, content)

    assert _failures(job)[2][0] == "invalid_message"
    assert smtp.recipient_counts() == {}


# Each ends a line where the standard library writes a header, as CR and LF do:
# vertical tab, form feed, the file, group and record separators, NEL and
# the Unicode line and paragraph separators.
LINE_ENDINGS = ["\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def test_a_variable_with_any_line_ending_character_cannot_break_the_headers(
    api_client, worker, smtp
):
    rows = [
        f"u{n}@example.com,Ada{ending}X-Forged : 1,{n}" for n, ending in enumerate(LINE_ENDINGS)
    ]
    content = "\n".join(["email,name,order", *rows, "ok@example.com,Ok,9", ""]).encode()

    job = _send(api_client, content)

    hostile = range(2, 2 + len(LINE_ENDINGS))
    assert {number: code for number, (code, _) in _failures(job).items()} == dict.fromkeys(
        hostile, "invalid_message"
    )
    assert smtp.recipient_counts() == {"ok@example.com": 1}


def test_an_address_whose_quoted_part_holds_a_line_break_is_invalid(api_client, worker, smtp):
    # RFC 5321 lets a quoted local part hold a vertical tab; a To header cannot.
    content = b'email,name,order\n"""a\x0bb""@example.com",Ada,1\nok@example.com,Ok,2\n'

    job = _send(api_client, content)

    assert _failures(job)[2][0] == "invalid_address"
    assert smtp.recipient_counts() == {"ok@example.com": 1}


def test_a_template_tag_that_reads_the_server_is_refused(api_client):
    response = submit_file(
        api_client,
        _recipients(1),
        kind="email.send",
        params=json.dumps({**PARAMS, "text": "{% debug %}"}),
    )

    assert response.status_code == 400
    assert "debug" in response.json()["error"]["message"]


def test_a_worker_killed_mid_job_never_makes_anyone_receive_two_messages(api_client, worker, smtp):
    from bulkyard.jobs.models import Chunk
    from tests.support.jobs import wait_until

    smtp.script.seconds_per_message = 0.004
    response = submit_file(
        api_client,
        _recipients(600),
        name="recipients.csv",
        kind="email.send",
        params=json.dumps(PARAMS),
        chunk_size="100",
    )
    job_id = response.json()["id"]
    wait_until(lambda: sum(smtp.recipient_counts().values()) >= 60, timeout=60, message="sending")

    worker.kill_hard()
    worker.start()

    job = wait_for_job(job_id, timeout=120)
    counts = smtp.recipient_counts()
    assert max(counts.values()) == 1
    unknown = {
        r.output["recipient"] for r in ItemResult.objects.filter(job=job, code="delivery_unknown")
    }
    sent = {r.output["recipient"] for r in ItemResult.objects.filter(job=job, outcome="succeeded")}
    assert len(sent) + len(unknown) == 600
    assert sent <= set(counts)
    assert set(counts) <= sent | unknown
    assert max(Chunk.objects.filter(job=job).values_list("attempts", flat=True)) >= 2


def test_recipients_can_come_from_a_registered_model_instead_of_an_upload(
    api_client, worker, smtp, user
):
    from tests.factories import ContactFactory

    oslo = ContactFactory.create_batch(7, owner=user, city="Oslo")
    ContactFactory.create_batch(3, owner=user, city="Rome")
    params = {
        **PARAMS,
        "subject": "Hello {{ name }} in {{ city }}",
        "recipients": {"target": "contacts", "filter": {"city": "Oslo"}},
    }

    response = api_client.post(
        "/api/v1/jobs/",
        {"kind": "email.send", "params": params, "chunk_size": 3},
        format="json",
    )
    assert response.status_code == 202, response.content
    job = wait_for_job(response.json()["id"])

    assert (job.status, job.chunks_total, job.succeeded_items) == (JobStatus.SUCCEEDED, 3, 7)
    assert set(smtp.recipient_counts()) == {contact.email for contact in oslo}
    [message] = smtp.messages_to(oslo[0].email)
    assert message["Subject"] == f"Hello {oslo[0].name} in Oslo"
    numbers = set(ItemResult.objects.filter(job=job).values_list("item_number", flat=True))
    assert numbers == {contact.pk for contact in oslo}


def test_a_recipient_query_on_an_unknown_field_is_refused(api_client):
    params = {**PARAMS, "recipients": {"target": "contacts", "filter": {"password": "x"}}}

    response = api_client.post(
        "/api/v1/jobs/", {"kind": "email.send", "params": params}, format="json"
    )

    assert response.status_code == 400
    assert "unknown field 'password'" in response.json()["error"]["message"]


def _send_with_attachments(client, content: bytes, files: dict[str, bytes], **params):
    uploads = []
    for name, data in files.items():
        upload = io.BytesIO(data)
        upload.name = name
        uploads.append(upload)
    response = client.post(
        "/api/v1/jobs/",
        {
            "kind": "email.send",
            "params": json.dumps({**PARAMS, **params}),
            "file": _named(content, "recipients.csv"),
            "attachments": uploads,
            "chunk_size": "2",
        },
        format="multipart",
    )
    assert response.status_code == 202, response.content
    return wait_for_job(response.json()["id"])


def _named(data: bytes, name: str) -> io.BytesIO:
    upload = io.BytesIO(data)
    upload.name = name
    return upload


def _attached(message) -> dict[str, bytes]:
    return {part.get_filename(): part.get_content() for part in message.iter_attachments()}


def test_attachments_sent_with_the_job_go_to_every_recipient(api_client, worker, smtp):
    files = {"terms.pdf": b"%PDF-1.4 fake terms", "prices.csv": b"item,price\nwidget,3\n"}

    job = _send_with_attachments(api_client, _recipients(3), files)

    assert job.succeeded_items == 3
    for number in range(3):
        [message] = smtp.messages_to(f"user{number}@example.com")
        attached = _attached(message)
        assert attached["terms.pdf"] == b"%PDF-1.4 fake terms"
        assert attached["prices.csv"].replace("\r\n", "\n") == "item,price\nwidget,3\n"


def test_a_column_can_choose_each_recipients_attachments(api_client, worker, smtp):
    content = (
        b"email,name,order,files\n"
        b"ada@example.com,Ada,1,invoice-1.pdf\n"
        b"alan@example.com,Alan,2,invoice-2.pdf;terms.pdf\n"
        b"grace@example.com,Grace,3,\n"
        b"linus@example.com,Linus,4,invoice-9.pdf\n"
    )
    files = {"invoice-1.pdf": b"one", "invoice-2.pdf": b"two", "terms.pdf": b"terms"}

    job = _send_with_attachments(api_client, content, files, attachment_field="files")

    assert set(_attached(smtp.messages_to("ada@example.com")[0])) == {"invoice-1.pdf"}
    assert set(_attached(smtp.messages_to("alan@example.com")[0])) == {
        "invoice-2.pdf",
        "terms.pdf",
    }
    assert _attached(smtp.messages_to("grace@example.com")[0]) == {}
    assert _failures(job)[5][0] == "unknown_attachment"
    assert "linus@example.com" not in smtp.recipient_counts()


def test_a_kind_without_attachments_refuses_them(api_client):
    response = api_client.post(
        "/api/v1/jobs/",
        {
            "kind": "text.stats",
            "file": _named(b"id,text\n1,hello\n", "texts.csv"),
            "attachments": [_named(b"x", "x.txt")],
        },
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "attachments_not_accepted"


def test_retrying_failed_recipients_sends_the_same_attachments(api_client, worker, smtp):
    smtp.script.refused.add("user1@example.com")
    job = _send_with_attachments(api_client, _recipients(2), {"terms.pdf": b"terms v1"})
    assert job.failed_items == 1
    smtp.script.refused.clear()

    response = api_client.post(f"/api/v1/jobs/{job.pk}/retry/")
    assert response.status_code == 202, response.content
    retry = wait_for_job(response.json()["id"])

    assert (retry.succeeded_items, retry.failed_items) == (1, 0)
    [message] = smtp.messages_to("user1@example.com")
    assert _attached(message) == {"terms.pdf": b"terms v1"}
    assert smtp.recipient_counts()["user0@example.com"] == 1


@pytest.mark.parametrize(
    ("sender", "reason"),
    [
        ("shop@example.com\nBcc: all@example.com", "line break"),
        ("Shop\vX-Forged : 1 <shop@example.com>", "line break"),
        ("Shop <nope>", "not an email"),
    ],
)
def test_a_sender_that_could_forge_headers_or_is_no_address_is_refused(api_client, sender, reason):
    response = submit_file(
        api_client,
        _recipients(1),
        kind="email.send",
        params=json.dumps({**PARAMS, "from_email": sender}),
    )

    assert response.status_code == 400
    assert reason in response.json()["error"]["message"]


def test_each_reply_to_entry_goes_out_as_one_address(api_client, worker, smtp):
    _send(api_client, _recipients(1), reply_to=['"Help, Shop" <help@example.com>'])

    [message] = smtp.messages_to("user0@example.com")
    [address] = message["Reply-To"].addresses
    assert (address.display_name, address.addr_spec) == ("Help, Shop", "help@example.com")


def test_a_recipient_whose_rendering_meets_a_bound_fails_alone_and_is_not_tried_again(
    api_client, worker, smtp
):
    content = (
        b"email,name,order,width,letters\n"
        b"user0@example.com,Ada,1,10,ab\n"
        b"user1@example.com,Alan,2,3000000,ab\n"  # a 3 MB text body
        b"user2@example.com,Grace,3,10," + b"x" * 1000 + b"\n"  # a million iterations
    )
    loops = "{% for a in letters %}{% for b in letters %}{% endfor %}{% endfor %}"
    text = "{{ name|center:width }}" + loops

    job = _send(api_client, content, text=text)

    failures = _failures(job)
    assert failures[3][0] == "rendered_too_large"
    assert "text: center:3000000 would pad" in failures[3][1]
    assert failures[4][0] == "rendering_too_costly"
    assert set(smtp.recipient_counts()) == {"user0@example.com"}
    for address in ("user1@example.com", "user2@example.com"):
        delivery = EmailDelivery.objects.get(job=job, recipient=address)
        assert (delivery.status, delivery.succeeded, delivery.runs) == (
            LedgerStatus.DONE,
            False,
            1,
        )
    retry = api_client.post(f"/api/v1/jobs/{job.pk}/retry/")
    assert retry.json()["error"]["code"] == "nothing_to_retry"
