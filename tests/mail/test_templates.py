import pytest

from bulkyard.mail.templates import EmailTemplates, TemplateProblem


def _compile(text: str = "Hello {{ name }}", *, subject: str = "Hi", html: str | None = None):
    return EmailTemplates.compile(subject=subject, text=text, html=html)


def test_the_plain_text_body_and_subject_are_not_html_escaped():
    rendered = _compile("{{ name }}", subject="For {{ name }}").render({"name": "Tom & <Jerry>"})

    assert (rendered.subject, rendered.text) == ("For Tom & <Jerry>", "Tom & <Jerry>")


def test_the_html_body_escapes_variables():
    rendered = _compile(html="<p>{{ name }}</p>").render({"name": "<script>"})

    assert rendered.html == "<p>&lt;script&gt;</p>"


def test_a_missing_variable_renders_empty_so_that_defaults_work():
    rendered = _compile("Dear {{ name|default:'friend' }}{{ missing }}.").render({})

    assert rendered.text == "Dear friend."


@pytest.mark.parametrize(
    "source",
    [
        "{% debug %}",
        "{% load static %}",
        "{% include 'x.html' %}",
        "{% extends 'x' %}",
        "{% url 'admin:index' %}",
        "{% csrf_token %}",
    ],
)
def test_tags_that_reach_outside_the_message_are_refused(source):
    with pytest.raises(TemplateProblem, match="text: Invalid block tag"):
        _compile(source)


def test_a_syntax_error_names_the_template():
    with pytest.raises(TemplateProblem, match=r"^html: "):
        _compile(html="{% if %}")


@pytest.mark.parametrize("line_break", ["\r\n", "\v", "\x1c", "\u2028"])
def test_a_subject_with_a_line_break_is_refused(line_break):
    with pytest.raises(TemplateProblem, match="line break"):
        _compile(subject=f"Hi{line_break}Bcc: x@example.com")
