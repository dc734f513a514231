"""What the new-job page shows besides its form: each kind's parameter
fields and facts (``jobs.selectors.kinds_described``), and the file kept from
a refused submission."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import UploadedFile

from bulkyard.jobs import selectors
from bulkyard.jobs.services import JobInput
from bulkyard.jobs.uploads import upload_job_input
from bulkyard.web import services
from bulkyard.web.forms import JobUploadForm, kind_param_fields
from bulkyard.web.models import PendingUpload
from bulkyard.web.params import ParamField
from bulkyard.web.selectors import pending_upload_get


@dataclass(frozen=True)
class KindPanel:
    """One kind's part of the page: its facts and its parameter fields, with
    what was sent in them and what is wrong with them."""

    kind: dict[str, Any]
    fields: list[tuple[ParamField, str, bool, str]]
    chosen: bool


def page_context(
    *,
    user: Any,
    form: JobUploadForm,
    pending: PendingUpload | None,
    data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``data``: what was sent (the fields show it), None for a new form."""
    described = selectors.kinds_described(user=user)
    chosen = (data or {}).get("kind") or form.initial.get("kind")
    chosen = chosen or (described[0]["name"] if described else "")
    panels = []
    for kind in described:
        choices = {}
        if kind["columns_param"] and kind["input_columns"]:
            # An import's target is one of those the user may import into.
            choices[kind["columns_param"]] = list(kind["input_columns"])
        errors = form.param_errors if kind["name"] == chosen else {}
        fields = [
            (field, field.shown(data), field.ticked(data), errors.get(field.name, ""))
            for field in kind_param_fields(kind["name"], choices=choices)
        ]
        panels.append(KindPanel(kind=kind, fields=fields, chosen=kind["name"] == chosen))
    return {
        "form": form,
        "panels": panels,
        # For job-form.js: examples, columns, previews (json_script, no inline script).
        "kinds": {kind["name"]: _for_script(kind) for kind in described},
        "pending": pending,
        # The fields after the file, in this order.
        "more_fields": [form[name] for name in ("attachments", "chunk_size", "priority", "params")],
    }


def _for_script(kind: dict[str, Any]) -> dict[str, Any]:
    keys = ("example_params", "offers_preview", "columns_param", "input_columns")
    return {
        **{key: kind[key] for key in keys},
        "accepts_zip": kind["accepts_zip"],
        "accepts_gzip": kind["accepts_gzip"],
        "reads_input": kind["reads_input"],
        "accepts_attachments": kind["accepts_attachments"],
    }


def chosen_input(
    *, owner: Any, form: JobUploadForm, for_update: bool = False
) -> tuple[JobInput | None, PendingUpload | None]:
    """The input of a valid form: the file chosen now, else the one kept from
    the last refused submission (the owner's own only); and that kept file,
    its row locked with ``for_update``."""
    upload: UploadedFile | None = form.cleaned_data.get("file")
    kept = pending_upload_get(
        owner=owner, upload_id=form.cleaned_data.get("pending_upload"), for_update=for_update
    )
    if upload is not None:
        return upload_job_input(upload, input_format=upload.bulkyard_format), kept  # type: ignore[attr-defined]
    if kept is not None:
        return services.pending_upload_input(pending=kept), kept
    return None, None


def keep_upload(*, owner: Any, form: JobUploadForm) -> PendingUpload | None:
    """After a refused submission: keep the file just chosen (in place of
    the one kept before), or the one kept before; None without either."""
    cleaned = getattr(form, "cleaned_data", {})
    kept = pending_upload_get(owner=owner, upload_id=cleaned.get("pending_upload"))
    upload = cleaned.get("file")
    if upload is None:
        return kept
    upload.seek(0)
    return services.pending_upload_keep(
        owner=owner, upload=upload, input_format=upload.bulkyard_format
    )
