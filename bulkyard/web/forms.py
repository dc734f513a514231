import json
from typing import Any

from django import forms

from bulkyard.jobs import registry
from bulkyard.jobs.models import HIGH_PRIORITY_PERMISSION, JobPriority


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


class JobUploadForm(forms.Form):
    kind = forms.ChoiceField(help_text="What to do with each item.")
    params = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "{}"}),
        help_text="The kind's parameters as a JSON object; empty for the defaults.",
    )
    file = forms.FileField(
        required=False,
        help_text="CSV with a header row, or JSON Lines (.jsonl). None for an export.",
    )
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
            raise forms.ValidationError("Upload a .csv, .jsonl or .zip file.")
        return upload
