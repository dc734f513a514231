"""Bounds on what rendering an email template may build and do.

Templates come from API users and are rendered once per recipient, with each
recipient's row as variables, so one template can ask for any amount of text
(``{{ name|center:"30000000" }}``) or work (loops nested over a row's
strings). Two bounds hold for each rendering of a part (subject, text, HTML):

- **Size**, ``BULKYARD_EMAIL_MAX_RENDERED_BYTES``: no part may hold more, nor
  any piece of one while it is built (the output of a block or a loop), nor
  what a filter reads or gives (``template_filters``, which checks the
  filters whose arguments decide their result's size before they build it).
- **Work**, ``BULKYARD_EMAIL_MAX_RENDER_STEPS``: a step is a loop iteration, a
  node rendered or a value looked up, plus one per KiB of text (32 items of a
  list) that it reads or writes; a filter costs more (``template_filters``).
  Counting lookups and what they read makes a comparison of long values inside
  a loop cost what it takes, which a cap on loop iterations alone would not.

Counted rather than timed: a rendering passes or fails the same way on a busy
worker as on an idle one, and a refused recipient can be told which bound it
met. Where the template alone shows a bound is met (a literal argument, loops
over literals, a template longer than a part may be), it is refused when
compiled, so the job is refused before it exists. See
docs/decisions/0005-bulk-email.md, "Template bounds".
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, NoReturn, cast

from django.conf import settings
from django.template import Context, Template, TemplateSyntaxError
from django.template.base import FilterExpression, Lexer, NodeList, Parser, Token, Variable
from django.template.defaulttags import ForNode, do_for
from django.utils.safestring import SafeString

TOO_LARGE = "rendered_too_large"
TOO_COSTLY = "rendering_too_costly"


class RenderLimitExceeded(Exception):
    """A rendering met a bound: ``code`` is ``TOO_LARGE`` or ``TOO_COSTLY``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class RenderLimits:
    max_bytes: int
    max_steps: int

    @classmethod
    def current(cls) -> RenderLimits:
        return cls(
            max_bytes=settings.BULKYARD_EMAIL_MAX_RENDERED_BYTES,
            max_steps=settings.BULKYARD_EMAIL_MAX_RENDER_STEPS,
        )

    def too_large(self, problem: str) -> RenderLimitExceeded:
        return RenderLimitExceeded(
            TOO_LARGE,
            f"{problem}; a part may hold at most {self.max_bytes} bytes "
            "(BULKYARD_EMAIL_MAX_RENDERED_BYTES)",
        )


@dataclass(slots=True)
class Budget:
    """What one rendering has spent, and the first bound it met."""

    limits: RenderLimits
    steps: int = 0
    exceeded: RenderLimitExceeded | None = None

    def charge(self, steps: int) -> None:
        self.steps += steps
        if self.steps > self.limits.max_steps:
            self.fail(
                RenderLimitExceeded(
                    TOO_COSTLY,
                    f"the rendering takes more than {self.limits.max_steps} steps "
                    "(BULKYARD_EMAIL_MAX_RENDER_STEPS: loop iterations, tags, values looked "
                    "up and filters applied, and the text they read or write)",
                )
            )

    def hold(self, size: int, what: str) -> None:
        # Characters against a bound in bytes: more characters than that are
        # more bytes too; the rendered part is measured in bytes at the end.
        if size > self.limits.max_bytes:
            self.fail(self.limits.too_large(f"{what} grows to {size} characters"))

    def fail(self, error: RenderLimitExceeded) -> NoReturn:
        # Kept: Django's {% if %} turns an error in a comparison into "false",
        # and the rendering must fail all the same.
        if self.exceeded is None:
            self.exceeded = error
        raise error


_budget: ContextVar[Budget | None] = ContextVar("bulkyard_template_budget", default=None)


def current_budget() -> Budget:
    budget = _budget.get()
    if budget is None:
        raise RuntimeError("email templates are compiled and rendered by BoundedTemplate")
    return budget


def _weight(value: Any) -> int:
    """Steps for a value looked up or a piece rendered, besides the step
    itself: what comparing or copying it costs, at about a KiB of text (32
    items of a list) per step."""
    if isinstance(value, str):
        return len(value) >> 10
    if isinstance(value, list | tuple | dict | set | frozenset):
        return len(value) >> 5
    return 0


# --- Tags ----------------------------------------------------------------------


class BoundedNodeList(NodeList):
    """Renders its nodes one by one against the bounds, before joining them."""

    def render(self, context: Context) -> SafeString:
        budget = current_budget()
        pieces = []
        size = 0
        # Nodes render text, whatever the stubs say (int | str).
        for node in cast(list[Any], self):
            piece = node.render_annotated(context)
            size += len(piece)
            budget.charge(1 + (len(piece) >> 10))
            budget.hold(size, "the rendering")
            pieces.append(piece)
        return SafeString("".join(pieces))


class BoundedForNode(ForNode):
    """Django's ``for``, whose render (Django 5.2's, unchanged but for the
    counts) charges a step per iteration and holds the loop's output to the
    size bound as it grows: joined at the end, as Django does, it could be
    iterations times the bound before anything looked at it."""

    def __init__(self, node: ForNode) -> None:
        super().__init__(
            node.loopvars, node.sequence, node.is_reversed, node.nodelist_loop, node.nodelist_empty
        )
        self.least_steps = self._least_steps()

    def _least_steps(self) -> int:
        """The steps any rendering that reaches this loop takes, if it loops
        over a literal (0 otherwise): one per iteration and per node of its
        body, and those of loops directly in its body, which every iteration
        runs (a loop inside an ``if`` may never run, and counts nothing)."""
        sequence = self.sequence
        if not isinstance(sequence, FilterExpression) or sequence.filters:
            return 0
        if isinstance(sequence.var, Variable) or not isinstance(sequence.var, str):
            return 0
        inner = sum(
            node.least_steps for node in self.nodelist_loop if isinstance(node, BoundedForNode)
        )
        return len(sequence.var) * (1 + len(self.nodelist_loop) + inner)

    def render(self, context: Context) -> SafeString:
        budget = current_budget()
        parentloop = context.get("forloop", {})
        with context.push():
            assert isinstance(self.sequence, FilterExpression)
            values = self.sequence.resolve(context, ignore_failures=True)
            if values is None:
                values = []
            if not hasattr(values, "__len__"):
                values = list(values)
            len_values = len(values)
            if len_values < 1:
                return self.nodelist_empty.render(context)  # type: ignore[union-attr]
            if self.is_reversed:
                values = reversed(values)
            loopvars = list(self.loopvars)
            body = cast(list[Any], self.nodelist_loop)
            unpack = len(loopvars) > 1
            loop = context["forloop"] = {"parentloop": parentloop}
            pieces: list[str] = []
            size = 0
            for i, item in enumerate(values):
                budget.charge(1)
                loop["counter0"] = i
                loop["counter"] = i + 1
                loop["revcounter"] = len_values - i
                loop["revcounter0"] = len_values - i - 1
                loop["first"] = i == 0
                loop["last"] = i == len_values - 1
                if unpack:
                    try:
                        len_item = len(item)
                    except TypeError:  # not an iterable
                        len_item = 1
                    if len(loopvars) != len_item:
                        raise ValueError(
                            f"Need {len(loopvars)} values to unpack in for loop; got {len_item}. "
                        )
                    context.update(dict(zip(loopvars, item, strict=True)))
                else:
                    context[loopvars[0]] = item
                for node in body:
                    piece = node.render_annotated(context)
                    size += len(piece)
                    budget.charge(1 + (len(piece) >> 10))
                    budget.hold(size, "a loop's output")
                    pieces.append(piece)
                if unpack:
                    context.pop()
        # What Django's ForNode returns (mark_safe of the pieces).
        return SafeString("".join(pieces))


def bounded_for(parser: Parser, token: Token) -> BoundedForNode:
    """The ``for`` tag of email templates."""
    node = BoundedForNode(do_for(parser, token))
    limits = current_budget().limits
    if node.least_steps > limits.max_steps:
        raise TemplateSyntaxError(
            f"this loop over a literal takes at least {node.least_steps} steps; a rendering "
            f"may take at most {limits.max_steps} (BULKYARD_EMAIL_MAX_RENDER_STEPS)"
        )
    return node


# --- Compiling -----------------------------------------------------------------


class BoundedFilterExpression(FilterExpression):
    """A value and its filters: checks literal arguments when compiled, and
    charges a step (and what it reads) each time it is looked up."""

    def __init__(self, token: str, parser: Parser) -> None:
        super().__init__(token, parser)
        limits = current_budget().limits
        for function, args in self.filters:
            check = getattr(function, "check_arguments", None)
            if check is None or any(lookup for lookup, _ in args):
                continue  # no check, or an argument known only when rendered
            problem = check(function.name, [value for _, value in args], limits.max_bytes)
            if problem is not None:
                raise TemplateSyntaxError(str(limits.too_large(problem)))

    def resolve(self, context: Context, ignore_failures: bool = False) -> Any:
        value = super().resolve(context, ignore_failures)
        current_budget().charge(1 + _weight(value))
        return value


class _Parser(Parser):
    def parse(self, parse_until: Any = None) -> NodeList:
        parsed = super().parse(parse_until)
        bounded = BoundedNodeList(parsed)
        bounded.contains_nontext = parsed.contains_nontext
        return bounded

    def compile_filter(self, token: str) -> FilterExpression:
        return BoundedFilterExpression(token, self)


class BoundedTemplate(Template):
    """A template compiled and rendered within the bounds (its engine must
    have the tags and filters of ``bulkyard.mail.template_library``)."""

    def compile_nodelist(self) -> NodeList:
        limits = RenderLimits.current()
        size = len(self.source.encode("utf-8", "surrogatepass"))
        if size > limits.max_bytes:
            raise TemplateSyntaxError(
                f"the template is {size} bytes; a part may render at most {limits.max_bytes} "
                "bytes (BULKYARD_EMAIL_MAX_RENDERED_BYTES)"
            )
        parser = _Parser(
            Lexer(self.source).tokenize(),
            self.engine.template_libraries,
            self.engine.template_builtins,
            self.origin,
        )
        # Counted while compiling too: {% verbatim %} renders its text then.
        token = _budget.set(Budget(limits))
        try:
            nodelist = parser.parse()
        finally:
            _budget.reset(token)
        self.extra_data = parser.extra_data  # type: ignore[attr-defined]  # not in the stubs
        return nodelist

    def render(self, context: Context) -> SafeString:
        """Raises ``RenderLimitExceeded``."""
        limits = RenderLimits.current()
        budget = Budget(limits)
        token = _budget.set(budget)
        try:
            output = super().render(context)
        finally:
            _budget.reset(token)
        if budget.exceeded is not None:
            raise budget.exceeded
        # UTF-8 takes at most 4 bytes a character: most parts need no encoding.
        if len(output) * 4 > limits.max_bytes:
            size = len(output.encode("utf-8", "surrogatepass"))
            if size > limits.max_bytes:
                raise limits.too_large(f"the rendering is {size} bytes")
        return output
