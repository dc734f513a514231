"""The new-job form's parameter fields, made from a kind's JSON Schema."""

from typing import Literal

import pytest
from pydantic import BaseModel, Field

from bulkyard.web.params import param_fields, params_from


class Nested(BaseModel):
    width: int


class Sample(BaseModel):
    name: str = Field(description="A name.")
    count: int = 3
    ratio: float | None = None
    loud: bool = True
    mode: Literal["fast", "slow"] = "fast"
    size: Nested | None = None
    tags: list[str] = Field(default_factory=list)


@pytest.fixture
def fields():
    return {field.name: field for field in param_fields("k", Sample.model_json_schema())}


def test_each_property_gets_the_widget_of_its_type(fields):
    widgets = {name: field.widget for name, field in fields.items()}

    assert widgets == {
        "name": "text",
        "count": "integer",
        "ratio": "number",
        "loud": "checkbox",
        "mode": "select",
        "size": "json",
        "tags": "json",
    }


def test_fields_carry_descriptions_defaults_and_required(fields):
    assert fields["name"].description == "A name."
    assert fields["name"].required
    assert not fields["count"].required
    assert fields["count"].shown(None) == "3"
    assert fields["mode"].choice_texts() == ["fast", "slow"]
    assert fields["loud"].ticked(None)


def test_inputs_are_named_for_their_kind():
    names = [field.html_name for field in param_fields("data.import", Sample.model_json_schema())]

    assert names[0] == "param:data.import:name"


def test_sent_text_becomes_typed_params_and_empty_fields_keep_the_default(fields):
    data = {
        "param:k:name": "x",
        "param:k:count": "7",
        "param:k:ratio": "",
        "param:k:loud": ["0"],  # the hidden "0" alone: unticked
        "param:k:mode": "slow",
        "param:k:size": '{"width": 2}',
    }

    params, errors = params_from(list(fields.values()), data)

    assert errors == {}
    assert params == {"name": "x", "count": 7, "loud": False, "mode": "slow", "size": {"width": 2}}


def test_a_ticked_checkbox_is_true(fields):
    params, _ = params_from([fields["loud"]], {"param:k:loud": ["0", "1"]})

    assert params == {"loud": True}


@pytest.mark.parametrize(
    ("name", "text", "error"),
    [
        ("count", "many", "a whole number"),
        ("ratio", "half", "a number"),
        ("mode", "medium", "one of fast, slow"),
        ("size", "{width", "not valid JSON"),
    ],
)
def test_text_a_field_cannot_hold_is_an_error_on_that_field(fields, name, text, error):
    _, errors = params_from(list(fields.values()), {f"param:k:{name}": text})

    assert error in errors[name]


def test_choices_given_for_a_property_make_it_a_list_to_pick_from():
    schema = Sample.model_json_schema()

    name = param_fields("k", schema, choices={"name": ["contacts"]})[0]

    assert name.widget == "select"
    assert name.choice_texts() == ["contacts"]
