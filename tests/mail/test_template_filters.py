"""Django's filters in email templates: what they may read and build, and what
they cost (bulkyard/mail/template_filters.py)."""

import pytest

from bulkyard.mail.template_limits import RenderLimitExceeded
from bulkyard.mail.templates import EmailTemplates, TemplateProblem

# Without the bounds, some of these take from seconds to minutes.
pytestmark = pytest.mark.timeout(10)


def _compile(text: str) -> EmailTemplates:
    return EmailTemplates.compile(subject="Hi", text=text, html=None)


def _refusal(text: str, variables: dict) -> RenderLimitExceeded:
    with pytest.raises(RenderLimitExceeded) as refused:
        _compile(text).render(variables)
    return refused.value


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


def test_a_padding_width_from_a_variable_is_refused_before_the_padding_is_built():
    refused = _refusal("{{ name|center:width }}", {"name": "Ada", "width": 30_000_000})

    assert refused.code == "rendered_too_large"
    assert "center" in str(refused)


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


def test_filtering_a_large_value_over_and_over_counts_as_work():
    refused = _refusal(
        "{% for c in name %}{{ long|striptags|length }}{% endfor %}",
        {"name": "x" * 1000, "long": "<b>x</b> " * 100_000},
    )

    assert refused.code == "rendering_too_costly"
