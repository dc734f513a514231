"""The new-job form: the kind, its parameters (fields made from the kind's
JSON Schema, ``params``, and JSON text for whatever they leave out), the
file, and how the job runs."""

import json
from collections.abc import Mapping
from typing import Any

from django import forms

from bulkyard.jobs import registry
from bulkyard.jobs.models import HIGH_PRIORITY_PERMISSION, JobPriority
from bulkyard.web.params import ParamField, param_fields, params_from


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (Django's documented recipe)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)] if data else []


def kind_param_fields(
    kind: str, *, choices: Mapping[str, list[Any]] | None = None
) -> list[ParamField]:
    """The parameter fields of a registered kind (none for an unknown one)."""
    try:
        job_kind = registry.get(kind)
    except registry.UnknownKind:
        return []
    return param_fields(kind, job_kind.params_model.model_json_schema(), choices=choices)


class JobUploadForm(forms.Form):
    kind = forms.ChoiceField(help_text="What to do with each item.")
    params = forms.CharField(
        required=False,
        label="More parameters (JSON)",
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "{}"}),
        help_text="Optional: parameters as a JSON object, as the API takes them; "
        "they take precedence over the fields above.",
    )
    file = forms.FileField(
        required=False,
        help_text="CSV with a header row or JSON Lines (.jsonl), either may be gzip-compressed "
        "(.csv.gz, .jsonl.gz); or a ZIP of files, for kinds that read one (images). "
        "None for an export.",
    )
    # A file kept from a refused submission (``PendingUpload``), sent again
    # in its place when no other file is chosen.
    pending_upload = forms.UUIDField(required=False, widget=forms.HiddenInput)
    attachments = MultipleFileField(
        required=False,
        help_text="Files to send with the job, for kinds that use them (email attachments).",
    )
    chunk_size = forms.IntegerField(required=False, min_value=1, help_text="Optional.")
    priority = forms.ChoiceField(
        choices=JobPriority.choices,
        initial=JobPriority.NORMAL,
        required=False,
        help_text="Order among your own jobs; other users' jobs still take turns with yours.",
    )

    def __init__(self, *args: Any, user: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per parameter name of the chosen kind: what is wrong with its field.
        self.param_errors: dict[str, str] = {}
        kind_field = self.fields["kind"]
        assert isinstance(kind_field, forms.ChoiceField)
        kind_field.choices = [
            (k.name, f"{k.title or k.name} ({k.name})") for k in registry.all_kinds()
        ]
        if user is None or not user.has_perm(HIGH_PRIORITY_PERMISSION):
            # Offered only to those who may use it (job_create checks it again).
            priority_field = self.fields["priority"]
            assert isinstance(priority_field, forms.ChoiceField)
            priority_field.choices = [
                choice for choice in JobPriority.choices if choice[0] != JobPriority.HIGH
            ]

    def clean_priority(self) -> str:
        return self.cleaned_data["priority"] or JobPriority.NORMAL

    def clean_params(self) -> dict[str, Any]:
        raw = self.cleaned_data["params"].strip()
        if not raw:
            return {}
        try:
            params = json.loads(raw)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None
        if not isinstance(params, dict):
            raise forms.ValidationError("Parameters must be a JSON object, like {}.")
        return params

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        # The chosen kind's fields, then the JSON text over them.
        kind = cleaned.get("kind") or ""
        fields, self.param_errors = params_from(kind_param_fields(kind), self.data)
        if self.param_errors:
            raise forms.ValidationError("Some parameters are not what they must be: see below.")
        if "params" in cleaned:
            cleaned["params"] = {**fields, **cleaned["params"]}
        return cleaned

    def add_service_error(self, message: str, details: Any) -> None:
        """Show an error ``job_create`` gave: beside the parameter fields it
        names, or above the form when one of them has no field here (a rule
        on the params as a whole, a kind changed meanwhile) — never both, so
        no message is read twice."""
        shown = {field.name for field in kind_param_fields(self.data.get("kind") or "")}
        placed: dict[str, str] = {}
        for detail in details or ():
            name = str(detail.get("field", "")).split(".", 1)[0] if isinstance(detail, dict) else ""
            if name not in shown:
                self.add_error(None, message)
                return
            placed.setdefault(name, str(detail.get("message", "")))
        if not placed:
            self.add_error(None, message)
            return
        for name, text in placed.items():
            self.param_errors.setdefault(name, text)

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload is None:
            return None
        name = upload.name.lower().removesuffix(".gz")
        if name.endswith(".csv"):
            upload.bulkyard_format = "csv"
        elif name.endswith((".jsonl", ".ndjson")):
            upload.bulkyard_format = "jsonl"
        elif name.endswith(".zip"):
            upload.bulkyard_format = "zip"
        else:
            raise forms.ValidationError(
                "Upload a .csv, .jsonl or .zip file (.csv.gz and .jsonl.gz too)."
            )
        return upload
