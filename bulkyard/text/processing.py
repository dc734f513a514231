"""The operations of ``text.process``, as plain functions over one document;
``Pipeline`` holds what is compiled once per chunk."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import re2
from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

from bulkyard.text import keywords, language
from bulkyard.text.pii import Redactor

WORD = re.compile(r"\w+(?:['’-]\w+)*")  # noqa: RUF001 (typographic apostrophe)
SENTENCE_END = re.compile(r"[.!?。！？]+(?=\s|$)")  # noqa: RUF001 (CJK full stops)
HTML_TAG = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9-]*|/[a-zA-Z][a-zA-Z0-9-]*|!--)[^>]*>")
SPACES = re.compile(r"[^\S\n]+")
BLANK_LINES = re.compile(r"\n\s*\n(?:\s*\n)+")
# A strict CSS profile: block elements on their own lines, nothing invented.
_HTML_CONFIG = ParserConfig(css=CSS_PROFILES["strict"].copy(), display_links=False)

# re2 runs in time linear in the text, whatever the pattern (no backtracking),
# within this much memory per pattern.
RE2_MAX_MEMORY = 8 << 20


class RuleError(ValueError):
    """A find/replace rule that cannot be compiled; says which and why."""


def clean(
    text: str,
    *,
    normalize: Literal["NFC", "NFKC", "none"],
    html: Literal["auto", "always", "never"],
    collapse_whitespace: bool,
) -> str:
    if html == "always" or (html == "auto" and HTML_TAG.search(text)):
        text = get_text(text, _HTML_CONFIG)
    if normalize != "none":
        text = unicodedata.normalize(normalize, text)
    if collapse_whitespace:
        text = "\n".join(SPACES.sub(" ", line).strip() for line in text.split("\n"))
        text = BLANK_LINES.sub("\n\n", text).strip()
    return text


def counts(text: str, *, words_per_minute: int) -> dict[str, Any]:
    words = len(WORD.findall(text))
    sentences = len(SENTENCE_END.findall(text)) or (1 if words else 0)
    return {
        "characters": len(text),
        "words": words,
        "sentences": sentences,
        "reading_seconds": round(words * 60 / words_per_minute, 1),
    }


@dataclass(frozen=True, slots=True)
class Rule:
    find: str
    replace: str
    regex: bool = False
    ignore_case: bool = False


@dataclass(slots=True)
class CompiledRule:
    pattern: Any  # re2's compiled pattern
    replace: str


def compile_rules(rules: Sequence[Rule]) -> list[CompiledRule]:
    """Raises ``RuleError`` naming the rule. Literal rules are compiled as
    escaped patterns, so one engine serves both."""
    compiled = []
    for number, rule in enumerate(rules, start=1):
        options = re2.Options()
        options.max_mem = RE2_MAX_MEMORY
        options.case_sensitive = not rule.ignore_case
        options.literal = not rule.regex
        options.log_errors = False
        try:
            pattern = re2.compile(rule.find, options)
        except re2.error as exc:
            raise RuleError(
                f"rule {number}: {rule.find!r} is not a pattern re2 accepts ({exc}); "
                "lookarounds and backreferences are not supported"
            ) from None
        if rule.regex:
            _check_references(number, rule.replace, pattern)
            replacement = rule.replace
        else:
            replacement = rule.replace.replace("\\", "\\\\")
        compiled.append(CompiledRule(pattern, replacement))
    return compiled


_REFERENCE = re.compile(r"\\(\d+)|\\g<([^>]*)>")


def _check_references(number: int, replacement: str, pattern: Any) -> None:
    """Every group the replacement names exists (else every match would fail
    at run time, and with it every document)."""
    for match in _REFERENCE.finditer(replacement):
        name = match.group(1) or match.group(2)
        if name.isdigit() and int(name) <= pattern.groups:
            continue
        if not name.isdigit() and name in pattern.groupindex:
            continue
        raise RuleError(
            f"rule {number}: the replacement refers to group {name!r}, which the "
            f"pattern does not have ({pattern.groups} group(s))"
        )


def transform(
    text: str,
    rules: Sequence[CompiledRule],
    *,
    case: Literal["lower", "upper", "title"] | None,
    truncate: int | None,
) -> tuple[str, int]:
    """The text after the rules, case change and truncation, and how many
    replacements the rules made."""
    replacements = 0
    for rule in rules:
        text, made = rule.pattern.subn(rule.replace, text)
        replacements += made
    if case == "lower":
        text = text.lower()
    elif case == "upper":
        text = text.upper()
    elif case == "title":
        text = text.title()
    if truncate is not None and len(text) > truncate:
        text = text[:truncate]
    return text, replacements


@dataclass(slots=True)
class DocumentResult:
    text: str
    output: dict[str, Any]
    terms: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Pipeline:
    """The steps of a job, in its order, ready to run on each document."""

    steps: Sequence[str]
    clean_options: dict[str, Any]
    words_per_minute: int
    detect_language: bool
    keywords: int
    redactor: Redactor | None
    rules: list[CompiledRule]
    case: Literal["lower", "upper", "title"] | None
    truncate: int | None

    def run(self, text: str) -> DocumentResult:
        output: dict[str, Any] = {}
        terms: dict[str, int] = {}
        for step in self.steps:
            if step == "clean":
                text = clean(text, **self.clean_options)
            elif step == "redact" and self.redactor is not None:
                text, found = self.redactor.redact(text)
                output["redactions"] = found
            elif step == "transform":
                text, made = transform(text, self.rules, case=self.case, truncate=self.truncate)
                output["replacements"] = made
            elif step == "analyse":
                output.update(counts(text, words_per_minute=self.words_per_minute))
                if self.detect_language:
                    code, confidence = language.detect(text)
                    output["language"] = code
                    output["language_confidence"] = confidence
        if self.keywords:
            terms = dict(self.keyword_terms(text, output.get("language")))
        return DocumentResult(text=text, output=output, terms=terms)

    def keyword_terms(self, text: str, language: str | None) -> dict[str, int]:
        """Candidate keywords of a document's final text (the second pass
        counts them again from the stored text, so both passes agree),
        placeholders of redacted data left out."""
        if self.redactor is not None:
            for label in self.redactor.labels():
                text = text.replace(label, " ")
        return dict(keywords.terms(text, language))
