"""The new-job form's parameter fields, made from a kind's JSON Schema.

Each property of the params becomes one input by its type: text, a whole
number, a number, a checkbox, a list of choices (an enum), or JSON text for
anything else (objects, lists, unions). A field left empty is not sent, so
the kind's default applies; what a field's text cannot be is said beside it.
Inputs are named ``param:<kind>:<name>``: every kind's fields are on the page
and only the chosen kind's are read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# What an input's text is turned into, by widget.
TEXT, TEXTAREA, INTEGER, NUMBER, CHECKBOX, SELECT, JSON = (
    "text",
    "textarea",
    "integer",
    "number",
    "checkbox",
    "select",
    "json",
)
_TYPES = {"string": TEXT, "integer": INTEGER, "number": NUMBER, "boolean": CHECKBOX}
# A checkbox sends nothing when unticked: a hidden "0" before it tells an
# unticked box from a form that had no such field (the kind's default).
UNTICKED = "0"


@dataclass(frozen=True)
class ParamField:
    kind: str
    name: str
    widget: str
    description: str = ""
    required: bool = False
    default: Any = None
    has_default: bool = False
    choices: list[Any] = field(default_factory=list)

    @property
    def html_name(self) -> str:
        return f"param:{self.kind}:{self.name}"

    @property
    def html_id(self) -> str:
        return "param-" + "-".join(part.replace(".", "-") for part in (self.kind, self.name))

    @property
    def blank_choice(self) -> bool:
        """Whether a list of choices offers none (the kind's default: None)."""
        return not self.required and self.default is None

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()

    def shown(self, data: Mapping[str, Any] | None) -> str:
        """The input's text: what was sent, else the default."""
        if data is not None and self.html_name in data:
            values = _values(data, self.html_name)
            return values[-1] if values else ""
        if not self.has_default or self.default is None:
            return ""
        return _text(self.default, self.widget)

    def ticked(self, data: Mapping[str, Any] | None) -> bool:
        if data is not None and self.html_name in data:
            return _values(data, self.html_name)[-1] != UNTICKED
        return bool(self.default)

    def choice_texts(self) -> list[str]:
        return [_text(choice, SELECT) for choice in self.choices]

    def parse(self, data: Mapping[str, Any]) -> tuple[bool, Any]:
        """``(sent, value)``; raises ``ValueError`` saying what is wrong."""
        if self.html_name not in data:
            return False, None
        if self.widget == CHECKBOX:
            return True, self.ticked(data)
        text = self.shown(data).strip()
        if not text:
            return False, None
        if self.widget == INTEGER:
            try:
                return True, int(text)
            except ValueError:
                raise ValueError("a whole number, e.g. 10") from None
        if self.widget == NUMBER:
            try:
                return True, float(text)
            except ValueError:
                raise ValueError("a number, e.g. 2.5") from None
        if self.widget == SELECT:
            for choice in self.choices:
                if _text(choice, SELECT) == text:
                    return True, choice
            raise ValueError(f"one of {', '.join(self.choice_texts())}")
        if self.widget == JSON:
            try:
                return True, json.loads(text)
            except (json.JSONDecodeError, RecursionError) as exc:
                raise ValueError(f"not valid JSON: {exc}") from None
        return True, self.shown(data)


def param_fields(
    kind: str, schema: Mapping[str, Any], *, choices: Mapping[str, list[Any]] | None = None
) -> list[ParamField]:
    """One field per property of ``schema`` (a pydantic model's JSON Schema),
    in its order; ``choices``: a list of values to pick from for some
    properties (the import targets the user may use)."""
    choices = choices or {}
    definitions = schema.get("$defs", {})
    required = set(schema.get("required", ()))
    fields = []
    for name, prop in schema.get("properties", {}).items():
        resolved = _resolved(prop, definitions)
        if choices.get(name):
            resolved = {**resolved, "enum": choices[name]}
        fields.append(
            ParamField(
                kind=kind,
                name=name,
                widget=_widget(prop, resolved),
                description=prop.get("description") or resolved.get("description", ""),
                required=name in required,
                default=prop.get("default"),
                has_default="default" in prop,
                choices=list(resolved.get("enum", ())),
            )
        )
    return fields


def params_from(
    fields: list[ParamField], data: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The params the fields hold in ``data``, and an error per field whose
    text is not what its type needs."""
    params: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for param in fields:
        try:
            sent, value = param.parse(data)
        except ValueError as exc:
            errors[param.name] = str(exc)
            continue
        if sent:
            params[param.name] = value
    return params, errors


def _resolved(prop: Mapping[str, Any], definitions: Mapping[str, Any]) -> Mapping[str, Any]:
    """The property's own schema: a ``$ref`` followed, an optional value
    (``anyOf`` with null) taken as its one other type."""
    options = [option for option in prop.get("anyOf", ()) if option.get("type") != "null"]
    if len(options) == 1:
        prop = options[0]
    if "$ref" in prop:
        return definitions.get(prop["$ref"].rsplit("/", 1)[-1], {})
    return prop


def _widget(prop: Mapping[str, Any], resolved: Mapping[str, Any]) -> str:
    if prop.get("x-widget") == TEXTAREA:
        return TEXTAREA  # text of several lines (an email's body)
    if "enum" in resolved:
        return SELECT
    if "anyOf" in resolved or "oneOf" in resolved:
        return JSON
    return _TYPES.get(str(resolved.get("type")), JSON)


def _text(value: Any, widget: str) -> str:
    if widget in (TEXT, TEXTAREA, SELECT) and isinstance(value, str):
        return value
    if widget in (INTEGER, NUMBER) and isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _values(data: Mapping[str, Any], name: str) -> list[str]:
    getlist = getattr(data, "getlist", None)
    if getlist is not None:
        return [str(value) for value in getlist(name)]
    value = data[name]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]
