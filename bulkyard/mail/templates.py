"""Subject and bodies of a bulk email: Django templates, compiled once per
chunk, rendered per recipient.

Templates come from API users, so they get an engine of their own: no template
files (no ``include``/``extends``), no tag libraries, no ``debug`` tag, and
bounds on the size of what a rendering builds and on its work
(``template_limits``). The subject and the plain-text body are rendered
without HTML escaping; the HTML body escapes variables as Django pages do. A
variable a row lacks renders as "" (Django's rule, which keeps
``{{ name|default:"friend" }}`` working).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.template import Context, Engine, Template, TemplateSyntaxError

from bulkyard.mail.mime import holds_line_break
from bulkyard.mail.template_limits import BoundedTemplate, RenderLimitExceeded

# Django's filters come wrapped in this library, not from defaultfilters.
BUILTINS = ["bulkyard.mail.template_library"]


@lru_cache(maxsize=2)
def _engine(*, autoescape: bool) -> Engine:
    engine = Engine(dirs=[], app_dirs=False, loaders=[], libraries={}, autoescape=autoescape)
    # Engine always adds Django's default builtins to those it is given;
    # replace them rather than add to them.
    engine.builtins = list(BUILTINS)
    engine.template_builtins = engine.get_template_builtins(engine.builtins)
    return engine


class TemplateProblem(ValueError):
    """A template that does not compile; the message says where and why."""


def compile_template(source: str, *, html: bool, name: str) -> Template:
    try:
        return BoundedTemplate(source, engine=_engine(autoescape=html))
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"{name}: {exc}") from None


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str | None


@dataclass(frozen=True, slots=True)
class EmailTemplates:
    subject: Template
    text: Template
    html: Template | None

    @classmethod
    def compile(cls, *, subject: str, text: str, html: str | None) -> EmailTemplates:
        """Raises ``TemplateProblem``; a subject template may not hold a line
        break (it would end the header)."""
        if holds_line_break(subject):
            raise TemplateProblem("subject: a subject is one line; it holds a line break")
        return cls(
            subject=compile_template(subject, html=False, name="subject"),
            text=compile_template(text, html=False, name="text"),
            html=compile_template(html, html=True, name="html") if html is not None else None,
        )

    def render(self, variables: Mapping[str, Any]) -> RenderedEmail:
        """Raises ``RenderLimitExceeded``, its message naming the part."""
        return RenderedEmail(
            # Whitespace around a rendered subject is a template artefact.
            subject=_render(self.subject, variables, name="subject").strip(),
            text=_render(self.text, variables, name="text"),
            html=_render(self.html, variables, name="html") if self.html is not None else None,
        )


def _render(template: Template, variables: Mapping[str, Any], *, name: str) -> str:
    # A Context escapes by default whatever its engine says; follow the engine.
    context = Context(dict(variables), autoescape=template.engine.autoescape)
    try:
        return template.render(context)
    except RenderLimitExceeded as exc:
        raise RenderLimitExceeded(exc.code, f"{name}: {exc}") from None
