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


@pytest.mark.parametrize("padding", ["center", "ljust", "rjust"])
def test_a_literal_padding_width_over_the_bound_is_refused_when_compiled(padding):
    with pytest.raises(TemplateProblem, match=rf"^text: .*{padding}.*30000000"):
        _compile(f'{{{{ name|{padding}:"30000000" }}}}')


@pytest.mark.parametrize(
    "source",
    [
        '{{ price|stringformat:"030000000d" }}',
        '{{ price|stringformat:".30000000f" }}',
        '{{ price|floatformat:"30000000" }}',
        '{% filter center:"30000000" %}x{% endfilter %}',
        '{% with wide=name|rjust:"30000000" %}{% endwith %}',
    ],
)
def test_literal_arguments_that_would_build_more_than_the_bound_are_refused(source):
    with pytest.raises(TemplateProblem, match="30000000"):
        _compile(source)


def test_a_stringformat_with_more_than_one_conversion_is_refused():
    with pytest.raises(TemplateProblem, match="one conversion"):
        _compile('{{ row|stringformat:"(a)s%(a)s%(a)s" }}')


def test_lorem_is_not_available():
    with pytest.raises(TemplateProblem, match="lorem"):
        _compile("{% lorem 999999 w %}")


def test_a_template_longer_than_the_bound_is_refused(settings):
    settings.BULKYARD_EMAIL_MAX_RENDERED_BYTES = 1000

    with pytest.raises(TemplateProblem, match=r"^html: .*1001 bytes.*1000"):
        _compile("Hi", html="x" * 1001)


def test_a_padding_width_from_a_variable_is_refused_before_the_padding_is_built():
    refused = _refusal("{{ name|center:width }}", {"name": "Ada", "width": 30_000_000})

    assert refused.code == "rendered_too_large"
    assert "center" in str(refused)


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


def test_doubling_a_value_with_add_is_refused_before_it_passes_the_bound(settings):
    settings.BULKYARD_EMAIL_MAX_RENDER_STEPS = 10**9  # the size bound alone
    doublings = "".join(f"{{% with v{n + 1}=v{n}|add:v{n} %}}" for n in range(12))
    source = doublings + "{{ v12|length }}" + "{% endwith %}" * 12

    refused = _refusal(source, {"v0": "x" * 1000})  # 1000 * 2**12 = 4 MB

    assert refused.code == "rendered_too_large"
    assert "add" in str(refused)


def test_joining_with_a_long_separator_is_refused_before_the_join_is_built():
    refused = _refusal("{{ name|join:glue|length }}", {"name": "x" * 2000, "glue": "y" * 1000})

    assert refused.code == "rendered_too_large"
    assert "join" in str(refused)


def test_a_filter_result_over_the_bound_is_refused_even_if_a_later_filter_shrinks_it(settings):
    settings.BULKYARD_EMAIL_MAX_RENDERED_BYTES = 1000

    refused = _refusal("{{ text|escapejs|length }}", {"text": "<" * 500})  # 3000 characters

    assert refused.code == "rendered_too_large"


def test_a_filter_refuses_a_value_longer_than_the_bound_before_reading_it(settings):
    settings.BULKYARD_EMAIL_MAX_RENDERED_BYTES = 1000

    refused = _refusal("{{ text|truncatechars:10 }}", {"text": "x" * 1001})

    assert refused.code == "rendered_too_large"
    assert "truncatechars would read 1001 characters" in str(refused)


def test_the_html_truncators_read_at_most_64_kib():
    # Their time grows faster than their input: a MB of opening tags took 3 s.
    refused = _refusal("{{ text|truncatewords_html:10 }}", {"text": "<i>" * 22_000})

    assert refused.code == "rendered_too_large"
    assert "at most 65536" in str(refused)


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


def test_filtering_a_large_value_over_and_over_counts_as_work():
    refused = _refusal(
        "{% for c in name %}{{ long|striptags|length }}{% endfor %}",
        {"name": "x" * 1000, "long": "<b>x</b> " * 100_000},
    )

    assert refused.code == "rendering_too_costly"


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
