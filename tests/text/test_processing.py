"""The operations of text.process on known inputs, in-process."""

from collections import Counter

import pytest

from bulkyard.text import keywords, language
from bulkyard.text.pii import Redactor
from bulkyard.text.processing import Rule, RuleError, clean, compile_rules, counts, transform


def test_html_becomes_text_with_blocks_on_their_own_lines():
    html = "<h1>Title</h1><p>Hello <b>world</b> &amp; co</p><ul><li>a</li><li>b</li></ul>"

    assert clean(html, normalize="NFC", html="auto", collapse_whitespace=True) == (
        "Title\n\nHello world & co\n\n* a\n* b"
    )


def test_scripts_and_styles_do_not_become_text():
    html = "<p>Visible</p><script>var secret = 1;</script><style>p { color: red }</style>"

    assert clean(html, normalize="NFC", html="always", collapse_whitespace=True) == "Visible"


def test_text_without_tags_is_left_as_text_in_auto_mode():
    assert clean("1 < 2 and 3 > 2", normalize="none", html="auto", collapse_whitespace=False) == (
        "1 < 2 and 3 > 2"
    )


def test_nfkc_folds_compatibility_characters_and_nfc_composes():
    compatibility = "ﬁle №5 ２"  # noqa: RUF001 - the characters under test

    assert clean(compatibility, normalize="NFKC", html="never", collapse_whitespace=False) == (
        "file No5 2"
    )
    assert clean("e\u0301", normalize="NFC", html="never", collapse_whitespace=False) == "\u00e9"


def test_whitespace_collapses_within_lines_and_between_paragraphs():
    text = "  a \t b  \n\n\n\n c  \n"

    assert clean(text, normalize="none", html="never", collapse_whitespace=True) == "a b\n\nc"


def test_counts_and_reading_time():
    assert counts("One two three. Four five! Six?", words_per_minute=60) == {
        "characters": 30,
        "words": 6,
        "sentences": 3,
        "reading_seconds": 6.0,
    }


def test_every_kind_of_personal_data_is_replaced_and_counted():
    text = (
        "Write to ada.lovelace@example.com or call +44 20 7946 0958 (office: 020 7946 0958). "
        "Pay to GB82 WEST 1234 5698 7654 32 with card 4111-1111-1111-1111. "
        "Server 192.168.1.20, also 2001:db8::1."
    )

    redacted, found = Redactor(
        types=["email", "phone", "iban", "card", "ip"], phone_region="GB"
    ).redact(text)

    assert redacted == (
        "Write to [EMAIL] or call [PHONE] (office: [PHONE]). "
        "Pay to [IBAN] with card [CARD]. "
        "Server [IP], also [IP]."
    )
    assert found == {"email": 1, "phone": 2, "iban": 1, "card": 1, "ip": 2}


@pytest.mark.parametrize(
    "text",
    [
        "order 4111 1111 1111 1112 shipped",  # fails the Luhn check
        "GB00 WEST 1234 5698 7654 32",  # wrong IBAN checksum
        "version 1.2.3.4000 and 999.1.1.1",  # not IP addresses
        "release 1.2.3.4.5 and 10.0.0.1.2.",  # version strings, even at a sentence's end
        "call 020 7946 0958",  # no country code and no region
    ],
)
def test_look_alikes_are_left_alone(text):
    redacted, found = Redactor(types=["phone", "iban", "card", "ip"]).redact(text)

    assert (redacted, found) == (text, {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Seen from 8.8.8.8.", "Seen from [IP]."),
        ("Seen from 8.8.8.8. Then 10.0.0.1!", "Seen from [IP]. Then [IP]!"),
        ("hosts (10.0.0.1), 10.0.0.2; 10.0.0.3: up", "hosts ([IP]), [IP]; [IP]: up"),
        ("wait for 10.0.0.1...", "wait for [IP]..."),
    ],
)
def test_an_ipv4_address_followed_by_punctuation_is_redacted(text, expected):
    redacted, _ = Redactor(types=["ip"]).redact(text)

    assert redacted == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("DE89 3704 0044 0532 0130 00 BIC COBADEFFXXX", "[IBAN] BIC COBADEFFXXX"),
        ("card 4111 1111 1111 1111 123 left", "card [CARD] 123 left"),
        ("reverse with s[::-1] on fe80::1", "reverse with s[::-1] on [IP]"),
    ],
)
def test_data_followed_by_look_alike_characters_is_still_found(text, expected):
    redacted, _ = Redactor(types=["iban", "card", "ip"]).redact(text)

    assert redacted == expected


def test_a_long_digit_run_is_not_cut_into_a_card_number():
    text = "order 12345678901234567 shipped"

    assert Redactor(types=["card"]).redact(text) == (text, {})


def test_a_custom_placeholder():
    redacted, _ = Redactor(types=["email"], placeholder="<{type} removed>").redact("a@b.example")

    assert redacted == "<email removed>"


def test_rules_replace_literals_and_regexes_with_groups_then_case_and_truncation():
    rules = compile_rules(
        [
            Rule(find="a.b", replace="X"),  # literal: the dot is a dot
            Rule(find=r"(\w+)@(\w+)", replace=r"\2 at \1", regex=True),
            Rule(find="HELLO", replace="bye", ignore_case=True),
        ]
    )

    text, made = transform("a.b axb me@home Hello", rules, case="upper", truncate=12)

    assert (text, made) == ("X AXB HOME A", 3)


@pytest.mark.parametrize("replace", [r"\2", r"\g<name>"])
def test_a_replacement_naming_a_missing_group_is_refused(replace):
    with pytest.raises(RuleError, match="group"):
        compile_rules([Rule(find=r"(b)", replace=replace, regex=True)])


def test_a_pattern_with_lookaround_is_refused_with_a_clear_error():
    with pytest.raises(RuleError, match="rule 1"):
        compile_rules([Rule(find=r"(?<=a)b", replace="", regex=True)])


@pytest.mark.timeout(10)
def test_a_catastrophic_backtracking_pattern_cannot_hang_the_worker():
    # (a+)+$ against a long run of "a" ending otherwise takes exponential time
    # in a backtracking engine; re2 answers in linear time.
    rules = compile_rules([Rule(find=r"(a+)+$", replace="X", regex=True)])

    text, made = transform("a" * 100_000 + "!", rules, case=None, truncate=None)

    assert made == 0
    assert len(text) == 100_001


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("The quick brown fox jumps over the lazy dog near the river bank.", "en"),
        ("Der schnelle braune Fuchs springt über den faulen Hund am Flussufer.", "de"),
        ("Le renard brun rapide saute par-dessus le chien paresseux près de la rivière.", "fr"),
        ("El rápido zorro marrón salta sobre el perro perezoso junto al río.", "es"),
        ("Быстрая коричневая лиса прыгает через ленивую собаку у реки.", "ru"),  # noqa: RUF001
        ("これは日本語で書かれた短い文章です。", "ja"),
    ],
)
def test_the_language_is_detected(text, code):
    assert language.detect(text)[0] == code


def test_too_little_text_has_no_language():
    assert language.detect("ok 42") == (None, 0.0)


def test_keywords_rank_words_rare_in_the_job_above_common_ones():
    documents = {
        "a": keywords.terms("Invoice for the garden shovel. Garden tools.", "en"),
        "b": keywords.terms("Invoice for the kitchen kettle.", "en"),
        "c": keywords.terms("Invoice for the garden hose.", "en"),
    }
    frequencies = Counter(term for counts in documents.values() for term in counts)
    weights = keywords.weights(frequencies, frequencies, 3)

    top = keywords.top(documents["a"], weights, 2)

    assert [term for term, _ in top] == ["garden", "shovel"]
    assert "invoice" not in [t for t, _ in keywords.top(documents["b"], weights, 2)]


def test_runs_of_letters_longer_than_a_hundred_are_no_keywords():
    from bulkyard.text import keywords

    found = keywords.terms("z" * 101 + " " + "y" * 100 + " keyword", "en")

    assert set(found) == {"y" * 100, "keyword"}
