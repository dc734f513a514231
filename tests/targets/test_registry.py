import datetime as dt
from decimal import Decimal

import pytest
from django.db import models

from bulkyard.data.models import Contact
from bulkyard.jobs.kinds import ItemError
from bulkyard.targets.registry import get_target, register_target

CONTACTS = get_target("contacts")


def _convert(**row):
    return CONTACTS.convert_row(row, line=7)


def test_a_valid_row_is_converted_to_the_columns_types():
    values = _convert(email="Ada@Example.COM", name=" Ada ", age="36", city="London", amount="12.5")

    assert values == ("Ada@example.com", "Ada", 36, "London", Decimal("12.50"))


def test_optional_columns_take_their_defaults_when_empty_or_absent():
    values = _convert(email="a@b.co", name="A", age="", amount=None)

    assert values == ("a@b.co", "A", None, "", Decimal("0"))


def test_json_values_are_accepted_as_well_as_strings():
    values = _convert(email="a@b.co", name="A", age=40, amount=9.99)

    assert values[2:] == (40, "", Decimal("9.99"))


@pytest.mark.parametrize(
    ("row", "code", "message"),
    [
        ({"name": "A"}, "missing_value", "line 7, column 'email': a value is required"),
        ({"email": "nope", "name": "A"}, "invalid_value", "'nope' is not an email address"),
        ({"email": "a@b.co", "name": "x" * 201}, "invalid_value", "at most 200 characters"),
        ({"email": "a@b.co", "name": "A", "age": "-1"}, "invalid_value", "out of range"),
        ({"email": "a@b.co", "name": "A", "age": "1.5"}, "invalid_value", "not a whole number"),
        ({"email": "a@b.co", "name": "A", "age": True}, "invalid_value", "not a whole number"),
        ({"email": "a@b.co", "name": "A", "amount": "NaN"}, "invalid_value", "not a finite"),
        ({"email": "a@b.co", "name": "A", "amount": "1.234"}, "invalid_value", "decimal places"),
        (
            {"email": "a@b.co", "name": "A", "amount": "12345678901.00"},
            "invalid_value",
            "more than 12 digits",
        ),
        ({"email": "a@b.co", "name": "A", "amount": "1e40"}, "invalid_value", "12 digits"),
        ({"email": "a@b.co", "name": "A", "amount": "1e-40"}, "invalid_value", "decimal places"),
        # Beyond the decimal context's exponent range (Emax 999999).
        ({"email": "a@b.co", "name": "A", "amount": "1e999999999"}, "invalid_value", "12 digits"),
        ({"email": "a@b.co", "name": "A", "amount": "-1e999999999"}, "invalid_value", "12 digits"),
        ({"email": "a@b.co", "name": "A", "amount": "1e-999999999"}, "invalid_value", "decimal"),
    ],
)
def test_bad_values_fail_with_line_column_and_reason(row, code, message):
    with pytest.raises(ItemError) as caught:
        CONTACTS.convert_row(row, line=7)

    assert caught.value.code == code
    assert message in caught.value.message
    assert caught.value.message.startswith("line 7, column ")


def test_a_decimal_in_exponent_notation_is_accepted_within_the_limits():
    row = {"email": "a@b.co", "name": "A", "amount": "-0.5e1"}

    assert CONTACTS.convert_row(row, line=7)[4] == Decimal("-5.00")


def test_the_target_knows_its_required_fields_and_key():
    assert CONTACTS.required_fields == ("email", "name")
    assert (CONTACTS.key, CONTACTS.table) == ("email", Contact._meta.db_table)


def test_a_key_that_is_not_unique_is_refused_at_registration():
    with pytest.raises(ValueError, match="must be unique"):
        register_target(name="bad", model=Contact, key="city", fields=("city", "email"))


class _Everything(models.Model):
    flag = models.BooleanField(default=False)
    day = models.DateField(null=True)
    moment = models.DateTimeField(null=True)
    size = models.CharField(max_length=1, choices=[("s", "small"), ("l", "large")], unique=True)

    class Meta:
        app_label = "bulkyard_data"
        managed = False

    def __str__(self) -> str:
        return self.size


def test_booleans_dates_datetimes_and_choices_are_checked():
    target = register_target(
        name="everything", model=_Everything, key="size", fields=("size", "flag", "day", "moment")
    )

    values = target.convert_row(
        {"size": "l", "flag": "yes", "day": "2026-11-25", "moment": "2026-11-25T10:00:00"}, line=2
    )

    assert values == (
        "l",
        True,
        dt.date(2026, 11, 25),
        dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC),
    )
    with pytest.raises(ItemError, match="is not one of"):
        target.convert_row({"size": "m"}, line=3)
    with pytest.raises(ItemError, match="not true or false"):
        target.convert_row({"size": "s", "flag": "maybe"}, line=4)
