import json
from typing import Any

from django import forms

from bulkyard.jobs import registry


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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind_field = self.fields["kind"]
        assert isinstance(kind_field, forms.ChoiceField)
        kind_field.choices = [
            (k.name, f"{k.title or k.name} ({k.name})") for k in registry.all_kinds()
        ]

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
