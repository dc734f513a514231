"""The params of the text kinds: ``text.stats``, and ``text.process`` with its
steps' options, checked when a job is submitted."""

from typing import Literal

from django.conf import settings
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from bulkyard.text.pii import PII_TYPES, PiiType, Redactor
from bulkyard.text.processing import CompiledRule, Pipeline, Rule, RuleError, compile_rules


class TextStatsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text_field: str = Field("text", description="Field (CSV column) holding the text.")
    id_field: str | None = Field(
        "id", description="Field echoed into each result to identify the document."
    )
    words_per_minute: int = Field(230, ge=50, le=2000, description="Reading speed.")
    top_words: int = Field(5, ge=0, le=50, description="Most frequent words per document.")
    min_word_length: int = Field(3, ge=1, le=20)
    max_characters: int = Field(
        1_000_000, ge=1, le=10_000_000, description="Longer documents fail with too_large."
    )


Step = Literal["clean", "analyse", "redact", "transform"]


def _default_steps() -> list[Step]:
    return ["clean", "analyse"]


class CleanParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    normalize: Literal["NFC", "NFKC", "none"] = Field(
        "NFC", description="Unicode normalisation; NFKC also folds compatibility forms (ﬁ → fi)."
    )
    html: Literal["auto", "always", "never"] = Field(
        "auto", description="HTML to text: 'auto' when the document holds tags."
    )
    collapse_whitespace: bool = True


class AnalyseParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: bool = True
    keywords: int = Field(
        10, ge=0, le=100, description="Top keywords per document by TF-IDF over the job; 0: none."
    )
    words_per_minute: int = Field(230, ge=50, le=2000)


class RedactParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    types: list[PiiType] = Field(default_factory=lambda: list(PII_TYPES))
    placeholder: str = Field(
        "[{TYPE}]", max_length=100, description="'{TYPE}' / '{type}' become the kind found."
    )
    phone_region: str | None = Field(
        None,
        description="Region of numbers written without a country code, e.g. 'GB'; without "
        "it only international numbers (+44 …) are found.",
    )

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        import phonenumbers

        if value is not None and value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region libphonenumber knows (e.g. 'GB', 'US')")
        return value.upper() if value else None


class RuleParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    find: str = Field(min_length=1, max_length=1000)
    replace: str = Field("", max_length=1000, description="'\\1' refers to a group of a regex.")
    regex: bool = Field(False, description="A regular expression (re2 syntax) or a literal.")
    ignore_case: bool = False


class TransformParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[RuleParams] = Field(default_factory=list, max_length=100)
    _compiled: list[CompiledRule] = PrivateAttr(default_factory=list)
    case: Literal["lower", "upper", "title"] | None = None
    truncate: int | None = Field(None, ge=1, description="Keep at most this many characters.")

    @model_validator(mode="after")
    def _rules_compile(self) -> "TransformParams":
        try:
            self._compiled = compile_rules([Rule(**rule.model_dump()) for rule in self.rules])
        except RuleError as exc:
            raise ValueError(str(exc)) from None
        return self

    def compiled(self) -> list[CompiledRule]:
        """The rules, compiled once, when the params were validated."""
        return self._compiled


class TextProcessParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text_field: str = Field("text", description="Field (CSV column) holding the document.")
    id_field: str | None = Field("id", description="Field echoed into each result.")
    steps: list[Step] = Field(
        default_factory=_default_steps,
        min_length=1,
        description="The operations, in the order they run.",
    )
    clean: CleanParams = Field(default_factory=lambda: CleanParams.model_validate({}))
    analyse: AnalyseParams = Field(default_factory=lambda: AnalyseParams.model_validate({}))
    redact: RedactParams = Field(default_factory=lambda: RedactParams.model_validate({}))
    transform: TransformParams = Field(default_factory=lambda: TransformParams.model_validate({}))
    max_document_bytes: int | None = Field(
        None, ge=1, description="Larger documents fail alone; at most the server's limit."
    )
    format: Literal["jsonl", "csv"] = Field(
        "jsonl", description="Of the output file: a row per document with its text and figures."
    )
    gzip: bool = False

    @model_validator(mode="after")
    def _steps_once_within_limits(self) -> "TextProcessParams":
        if len(set(self.steps)) != len(self.steps):
            raise ValueError("steps: each step at most once")
        limit = settings.BULKYARD_TEXT_MAX_DOCUMENT_BYTES
        if self.max_document_bytes is not None and self.max_document_bytes > limit:
            raise ValueError(f"max_document_bytes may be at most {limit} on this server")
        return self

    def document_limit(self) -> int:
        return self.max_document_bytes or settings.BULKYARD_TEXT_MAX_DOCUMENT_BYTES

    def file_columns(self) -> tuple[str, ...]:
        """The output file's columns, those of the chosen steps."""
        columns = ["item"]
        if self.id_field:
            columns.append("id")
        if "analyse" in self.steps:
            if self.analyse.language:
                columns += ["language", "language_confidence"]
            columns += ["characters", "words", "sentences", "reading_seconds"]
            if self.analyse.keywords:
                columns.append("keywords")
        if "redact" in self.steps:
            columns.append("redactions")
        if "transform" in self.steps:
            columns.append("replacements")
        columns.append("text")
        return tuple(columns)

    def wants_keywords(self) -> bool:
        return "analyse" in self.steps and self.analyse.keywords > 0

    def pipeline(self) -> Pipeline:
        return Pipeline(
            steps=self.steps,
            clean_options=self.clean.model_dump(),
            words_per_minute=self.analyse.words_per_minute,
            detect_language=self.analyse.language,
            keywords=self.analyse.keywords if self.wants_keywords() else 0,
            redactor=Redactor(
                types=self.redact.types,
                placeholder=self.redact.placeholder,
                phone_region=self.redact.phone_region,
            )
            if "redact" in self.steps
            else None,
            rules=self.transform.compiled() if "transform" in self.steps else [],
            case=self.transform.case,
            truncate=self.transform.truncate,
        )
