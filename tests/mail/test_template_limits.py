"""Bounds on what rendering an email template may build and do: refused when
the template is compiled where the template alone shows it, else when a
recipient's rendering reaches the bound, before the text is built."""

import pytest
from django.template import Context, Engine

from bulkyard.mail.template_limits import RenderLimitExceeded
from bulkyard.mail.templates import EmailTemplates, TemplateProblem, compile_template

# Rendering stops at these bounds well within the timeout; without them, the
# templates below take seconds to minutes (or fill the memory).
pytestmark = pytest.mark.timeout(10)


def _compile(text: str, *, html: str | None = None, subject: str = "Hi") -> EmailTemplates:
    return EmailTemplates.compile(subject=subject, text=text, html=html)


def _refusal(text: str, variables: dict, *, html: bool = False) -> RenderLimitExceeded:
    templates = _compile("", html=text) if html else _compile(text)
    with pytest.raises(RenderLimitExceeded) as refused:
        templates.render(variables)
    return refused.value


# --- Size: the most a part may render to --------------------------------------


def test_lorem_is_not_available():
    with pytest.raises(TemplateProblem, match="lorem"):
        _compile("{% lorem 999999 w %}")


def test_a_template_longer_than_the_bound_is_refused(settings):
    settings.BULKYARD_EMAIL_MAX_RENDERED_BYTES = 1000

    with pytest.raises(TemplateProblem, match=r"^html: .*1001 bytes.*1000"):
        _compile("Hi", html="x" * 1001)


def test_a_part_rendering_over_the_bound_fails_naming_the_part(settings):
    settings.BULKYARD_EMAIL_MAX_RENDERED_BYTES = 1000

    refused = _refusal("<p>{{ text }}</p>", {"text": "é" * 600}, html=True)

    assert refused.code == "rendered_too_large"
    assert str(refused).startswith("html: ")
    assert "1000 bytes" in str(refused)


def test_a_part_of_exactly_the_bound_renders(settings):
    settings.BULKYARD_EMAIL_MAX_RENDERED_BYTES = 1000

    rendered = _compile("{{ text }}").render({"text": "é" * 500})

    assert len(rendered.text.encode()) == 1000


def test_a_loop_stops_as_soon_as_its_output_passes_the_bound(settings):
    settings.BULKYARD_EMAIL_MAX_RENDERED_BYTES = 10_000

    refused = _refusal(
        "{% for c in name %}{{ line }}{% endfor %}", {"name": "x" * 50, "line": "y" * 999}
    )

    assert refused.code == "rendered_too_large"


# --- Work: steps per rendering ------------------------------------------------


def test_nested_loops_over_a_variable_stop_at_the_step_bound():
    source = "{% for a in name %}{% for b in name %}{% endfor %}{% endfor %}"

    refused = _refusal(source, {"name": "x" * 1000})  # a million iterations

    assert refused.code == "rendering_too_costly"
    assert "steps" in str(refused)


def test_loops_over_literals_that_need_more_steps_than_allowed_are_refused_when_compiled():
    text = '"' + "x" * 400 + '"'
    source = f"{{% for a in {text} %}}{{% for b in {text} %}}{{% endfor %}}{{% endfor %}}"

    with pytest.raises(TemplateProblem, match="steps"):
        _compile(source)


def test_a_loop_over_a_literal_inside_a_condition_is_left_to_the_rendering():
    # Only loops that every iteration runs count when compiling: this one may never run.
    text = '"' + "x" * 400 + '"'
    inner = f"{{% if no %}}{{% for b in {text} %}}{{% endfor %}}{{% endif %}}"
    source = f"{{% for a in {text} %}}{inner}{{% endfor %}}"

    assert _compile(source).render({}).text == ""


def test_reading_a_large_value_over_and_over_counts_as_work():
    # Little output, but each test of the condition compares two long strings.
    source = "{% for c in name %}{% if long == other %}{% endif %}{% endfor %}"
    variables = {"name": "x" * 10_000, "long": "a" * 500_000, "other": "a" * 500_000}

    refused = _refusal(source, variables)

    assert refused.code == "rendering_too_costly"


def test_a_bound_hit_inside_a_condition_still_fails_the_rendering(settings):
    # Django's {% if %} turns errors in a comparison into "false".
    settings.BULKYARD_EMAIL_MAX_RENDERED_BYTES = 1000

    refused = _refusal(
        "{% if name|ljust:width == 'x' %}yes{% endif %}", {"name": "x", "width": 5000}
    )

    assert refused.code == "rendered_too_large"


def test_the_step_bound_is_a_setting(settings):
    settings.BULKYARD_EMAIL_MAX_RENDER_STEPS = 50

    refused = _refusal("{% for c in name %}{{ c }}{% endfor %}", {"name": "x" * 40})

    assert refused.code == "rendering_too_costly"
    assert "50 steps" in str(refused)


def test_an_order_table_of_a_thousand_lines_renders_within_the_bounds():
    source = (
        "<table>{% for line in lines %}<tr><td>{{ forloop.counter }}</td>"
        "<td>{{ line.name|title }}</td><td>{{ line.price|floatformat:2 }}</td>"
        "{% if line.note %}<td>{{ line.note|truncatechars:20 }}</td>{% endif %}</tr>"
        "{% empty %}<tr><td>none</td></tr>{% endfor %}</table>"
    )
    lines = [{"name": f"item {n}", "price": n * 1.5, "note": "n" * 30} for n in range(1000)]

    rendered = _compile("", html=source).render({"lines": lines})

    assert rendered.html is not None
    assert rendered.html.count("<tr>") == 1000
    assert "<td>Item 999</td><td>1498.50</td>" in rendered.html


# --- Within the bounds, Django's tags and filters as they are ------------------

VARIABLES = {
    "pairs": [("a", 1), ("b", 2)],
    "name": "Ada Lovelace",
    "lines": [{"name": "ab", "k": 1}, {"name": "cd", "k": 1}, {"name": "e", "k": 2}],
    "price": 3.14159,
    "html": "<a href='x'>&</a>",
    "text": "one two three\n\nfour",
}


@pytest.mark.parametrize(
    "source",
    [
        "{% for a, b in pairs %}{{ forloop.counter }}:{{ a }}={{ b }}"
        "{% if not forloop.last %}, {% endif %}{% endfor %}",
        "{% for c in name reversed %}{{ c }}{{ forloop.revcounter0 }}{% empty %}-{% endfor %}",
        "{% for c in missing %}x{% empty %}none{% endfor %}",
        "{% for l in lines %}{% for c in l.name %}{{ forloop.parentloop.counter }}{{ c }}"
        "{% endfor %}{% endfor %}",
        "{% for l in lines %}{% cycle 'odd' 'even' %}{% ifchanged l.k %}[{{ l.k }}]"
        "{% endifchanged %}{% endfor %}",
        "{% regroup lines by k as groups %}{% for g in groups %}{{ g.grouper }}:"
        "{{ g.list|length }};{% endfor %}",
        "{% spaceless %}<p> <b>{{ name }}</b> </p>{% endspaceless %}",
        "{% verbatim %}{{ not rendered }}{% endverbatim %}",
        "{% filter upper|center:15 %}{{ name }}{% endfilter %}|",
        "{% with n=name|add:'!' %}{{ n|ljust:15 }}|{{ n|rjust:15 }}{% endwith %}",
        "{% widthratio 175 200 100 %} {% firstof missing name %} {% templatetag openblock %}",
        "{{ price|floatformat:2 }} {{ price|stringformat:'08.3f' }} "
        "{{ name|make_list|join:'-' }} {{ pairs|length }}",
        "{% autoescape on %}{{ html }}{% endautoescape %}{{ html|escapejs }}{{ html|urlencode }}",
        "{% if name|length > 3 and price %}long{% elif name %}short{% else %}none{% endif %}",
        "{{ lines|dictsort:'k'|first }} {{ name|slice:':2' }} {{ text|linebreaks }} "
        "{{ text|wordwrap:5 }}",
    ],
)
def test_tags_and_filters_render_as_djangos_own(source):
    django = Engine(dirs=[], app_dirs=False, loaders=[], libraries={}, autoescape=False)

    ours = compile_template(source, html=False, name="text").render(Context(VARIABLES))

    assert ours == django.from_string(source).render(Context(VARIABLES))
