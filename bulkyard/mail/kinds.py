"""The ``email.send`` job kind: one templated email per recipient row."""

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from django.conf import settings
from django.db.models import IntegerField, QuerySet
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from bulkyard.core.emails import is_email, mailbox_address, normalise_email
from bulkyard.core.mail_server import MailServerState, mail_server_state
from bulkyard.jobs.sdk import (
    ChunkContext,
    ChunkResult,
    FinishContext,
    FinishResult,
    Item,
    ItemResultData,
    JobKind,
    SubmissionWarning,
    WorkPlan,
    failure,
    failures_by_code,
    register,
    summed_counts,
)
from bulkyard.mail.mime import holds_line_break
from bulkyard.mail.services import ChunkSender, Letter, Outcome, Recipient
from bulkyard.mail.template_limits import TOO_COSTLY, TOO_LARGE
from bulkyard.mail.templates import EmailTemplates, TemplateProblem
from bulkyard.targets.access import job_owner
from bulkyard.targets.queries import InvalidFilter, chunk_rows, export_plan, export_queryset
from bulkyard.targets.registry import get_target


def _address(value: str, *, what: str) -> str:
    """``value`` if it names exactly one mailbox: a sender or a Reply-To entry
    holding two would fail every send, or answer to both."""
    if holds_line_break(value):
        raise ValueError(f"{what} holds a line break, which could forge email headers")
    try:
        mailbox_address(value)
    except ValueError as exc:
        raise ValueError(f"{what} {value!r} {exc}") from None
    return value


def _reply_to_entry(value: str) -> str:
    return _address(value, what="reply_to entry")


class RecipientQuery(BaseModel):
    """Recipients from a registered model instead of an upload."""

    model_config = ConfigDict(extra="forbid")

    target: str = Field(description="A registered target, e.g. 'contacts'.")
    filter: dict[str, Any] = Field(
        default_factory=dict,
        description='Field lookups, ANDed, as for data.export: {"city": "Paris"}.',
    )
    email_field: str = Field("email", description="The field that holds the address.")

    @model_validator(mode="after")
    def _query_is_valid(self) -> "RecipientQuery":
        try:
            target = get_target(self.target)
            export_queryset(target, self.filter)
        except (LookupError, InvalidFilter) as exc:
            raise ValueError(str(exc)) from None
        if not isinstance(target.model._meta.pk, IntegerField):
            raise ValueError(
                f"{self.target!r} has no integer primary key; recipients from it would "
                "have no item numbers (upload them instead)"
            )
        if self.email_field not in target.field_names:
            raise ValueError(
                f"email_field {self.email_field!r} is not a field of {self.target!r} "
                f"({', '.join(target.field_names)})"
            )
        return self

    def queryset(self, user: Any) -> QuerySet[Any]:
        """The recipients: among ``user``'s rows of the target, those the filter names."""
        target = get_target(self.target)
        return export_queryset(target, self.filter, rows=target.rows_for(user))


class EmailParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(
        max_length=998, description="Django template, e.g. 'Your order {{ order_id }}'."
    )
    # "x-widget": the new-job page shows a box of several lines for them.
    text: str = Field(
        description="Plain-text body: a Django template (not HTML-escaped).",
        json_schema_extra={"x-widget": "textarea"},
    )
    html: str | None = Field(
        None,
        description="HTML body, a Django template (variables HTML-escaped); optional.",
        json_schema_extra={"x-widget": "textarea"},
    )
    from_email: str | None = Field(
        None,
        description="One sender, e.g. 'Shop <shop@example.com>'; DEFAULT_FROM_EMAIL if omitted.",
    )
    reply_to: list[Annotated[str, AfterValidator(_reply_to_entry)]] = Field(
        default_factory=list,
        max_length=10,
        description="Reply-To addresses, one per entry, e.g. ['Support <help@example.com>'].",
    )
    email_field: str = Field(
        "email", description="The column (or JSON key) that holds each recipient's address."
    )
    attachment_field: str | None = Field(
        None,
        description="A column naming which attachments (sent with the job, by file name, "
        "separated by ';') each recipient gets; without it, everyone gets all of them.",
    )
    _templates: EmailTemplates | None = PrivateAttr(default=None)
    recipients: RecipientQuery | None = Field(
        None,
        description="Send to a registered model's rows instead of an upload (then send no "
        "file); every field is a template variable and the item number is the row's id.",
    )

    @field_validator("from_email")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        return None if value is None else _address(value, what="from_email")

    @model_validator(mode="after")
    def _templates_compile(self) -> "EmailParams":
        try:
            self._templates = EmailTemplates.compile(
                subject=self.subject, text=self.text, html=self.html
            )
        except TemplateProblem as exc:
            raise ValueError(str(exc)) from None
        return self

    def templates(self) -> EmailTemplates:
        """The templates, compiled once, when the params were validated."""
        assert self._templates is not None
        return self._templates


@register
class SendEmailKind(JobKind[EmailParams]):
    """A personalised email to every recipient of the input, sent at most once each."""

    name = "email.send"
    title = "Bulk email"
    description = (
        "One email per row of a CSV / JSON Lines file (the address in the 'email' column, the "
        "other columns as template variables), subject and bodies rendered as Django "
        "templates. One SMTP connection per chunk, a shared rate limit per sending account, "
        "temporary errors retried with backoff, nobody emailed twice. The results list each "
        "recipient: sent (with its Message-ID) or failed (with the SMTP code and reason)."
    )
    params_model = EmailParams
    chunk_size = 200
    max_chunk_size = 5_000
    queue_class = "io"
    output_columns = ("recipient", "message_id", "smtp_code")
    accepts_attachments = True
    # Retrying these would not help, or could email someone twice (an unknown
    # delivery may have arrived: look its Message-ID up before sending again).
    not_retried_codes = frozenset(
        {
            "duplicate_recipient",
            "invalid_address",
            "missing_address",
            "delivery_unknown",
            # Bounds are counted, not timed: the row would meet them again.
            TOO_LARGE,
            TOO_COSTLY,
        }
    )
    example_item = {"email": "ada@example.com", "name": "Ada", "order_id": "A-1001"}
    example_params = {
        "subject": "Your order {{ order_id }}",
        "text": "Hello {{ name }},\n\nyour order {{ order_id }} has shipped.",
        "email_field": "email",
    }

    def columns_needed(self, params: EmailParams) -> tuple[str, ...]:
        return (params.email_field,)

    def takes_input(self, params: EmailParams) -> bool:
        return params.recipients is None

    def check_allowed(self, params: EmailParams, *, user: Any) -> None:
        query = params.recipients
        if query is None:
            return
        get_target(query.target).require(user, "recipients")

    def submission_warnings(self, params: EmailParams) -> list[SubmissionWarning]:
        # Accepted all the same: the server may be back before the first
        # chunk runs, and temporary failures are retried (decision 0023).
        if mail_server_state() != MailServerState.UNREACHABLE:
            return []
        # The server's address is the operator's business: staff see it on
        # /health/; a user is told what happens to the job.
        return [
            SubmissionWarning(
                "mail_server_unreachable",
                "the mail server cannot be reached now; the job is accepted and its emails "
                "are sent once it answers, or fail after their retries",
            )
        ]

    def plan_work(self, params: EmailParams, *, chunk_size: int, owner_id: int) -> WorkPlan:
        assert params.recipients is not None
        return export_plan(params.recipients.queryset(job_owner(owner_id)), chunk_size=chunk_size)

    def process_chunk(self, items: Iterable[Item], ctx: ChunkContext[EmailParams]) -> ChunkResult:
        params = ctx.params
        email_field = params.email_field
        if params.recipients is not None and ctx.work is not None:
            items = _query_items(params.recipients, ctx.work, job_owner(ctx.owner_id))
            email_field = params.recipients.email_field
        letter = Letter(
            templates=params.templates(),
            from_email=params.from_email or settings.DEFAULT_FROM_EMAIL,
            reply_to=tuple(params.reply_to),
            attachments={attached.name: attached for attached in ctx.attachments},
        )
        result = ChunkResult()
        recipients: list[Recipient] = []
        inputs: dict[int, Any] = {}
        for item in items:
            if item.error is not None:
                result.items.append(failure(item, item.error.code, item.error.message))
                continue
            recipient = _recipient(item, email_field)
            if isinstance(recipient, ItemResultData):
                result.items.append(recipient)
                continue
            if params.attachment_field:
                chosen = _chosen_attachments(item, params.attachment_field, letter)
                if isinstance(chosen, ItemResultData):
                    result.items.append(chosen)
                    continue
                recipient = dataclasses.replace(recipient, attachments=chosen)
            recipients.append(recipient)
            inputs[item.number] = item.data
        sender = ChunkSender(job_id=ctx.job_id, letter=letter, should_stop=ctx.should_stop)
        for outcome in sender.send(recipients):
            result.items.append(_item_result(outcome, inputs[outcome.number]))
        result.items.sort(key=lambda item: item.number)
        result.summary = self.summarize_chunk(result, ctx)
        return result

    def summarize_chunk(
        self, result: ChunkResult, ctx: ChunkContext[EmailParams]
    ) -> dict[str, int]:
        """Failures of the chunk by code, merged by ``finish``."""
        return failures_by_code(result)

    def finish(self, ctx: FinishContext[EmailParams]) -> FinishResult:
        totals = summed_counts(ctx.chunk_summaries)
        return FinishResult(summary={"sent": ctx.counts["succeeded"], "failed_by_code": totals})


def _chosen_attachments(
    item: Item, field_name: str, letter: Letter
) -> tuple[str, ...] | ItemResultData:
    raw = item.data.get(field_name) if isinstance(item.data, dict) else None
    names = tuple(n.strip() for n in str(raw or "").split(";") if n.strip())
    unknown = [name for name in names if name not in letter.attachments]
    if unknown:
        return failure(
            item,
            "unknown_attachment",
            f"line {item.number}: no attachment named {', '.join(map(repr, unknown))} was "
            f"sent with the job (sent: {', '.join(letter.attachments) or 'none'})",
        )
    return names


def _query_items(query: RecipientQuery, work: dict[str, Any], user: Any) -> Iterator[Item]:
    """The rows of one planned range as items numbered by their primary key."""
    fields = get_target(query.target).field_names
    for pk, *values in chunk_rows(query.queryset(user), work, ("pk", *fields)):
        yield Item(int(pk), dict(zip(fields, values, strict=True)))


def _recipient(item: Item, email_field: str) -> Recipient | ItemResultData:
    data = item.data
    if not isinstance(data, dict):
        return failure(item, "invalid_item", f"line {item.number}: expected an object")
    value = data.get(email_field)
    if not isinstance(value, str) or not value.strip():
        return failure(
            item, "missing_address", f"line {item.number}: no address in {email_field!r}"
        )
    address = value.strip()
    if holds_line_break(address) or not is_email(address):
        return failure(
            item, "invalid_address", f"line {item.number}: {address!r} is not an email address"
        )
    return Recipient(number=item.number, address=normalise_email(address), variables=data)


def _item_result(outcome: Outcome, data: Any) -> ItemResultData:
    output = {
        "recipient": outcome.address,
        "message_id": outcome.message_id or None,
        "smtp_code": outcome.smtp_code,
    }
    if outcome.sent:
        return ItemResultData(number=outcome.number, succeeded=True, output=output)
    return ItemResultData(
        number=outcome.number,
        succeeded=False,
        input=data,
        output=output,
        code=outcome.code,
        message=outcome.message,
    )
