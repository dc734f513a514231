"""The documentation cannot drift from the code, nor point nowhere.

- docs/architecture.md's module map lists every module under ``bulkyard/`` and
  ``config/``, and only modules that exist;
- every path the front page and the guides name (``bulkyard/jobs/sdk.py``,
  ``docs/targets.md``) exists; decision records are left out, as they may
  name what was true when they were written;
- every code name the architecture page and the kind pages name in backticks
  exists: a dotted name (``creation.job_create``, ``JobKind.finish``) is
  imported and looked up, a bare one (``chunks_finished``) must occur in the
  code;
- every relative link in every Markdown file leads to a file, and every
  ``#anchor`` to a heading of it.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from bulkyard.jobs import registry

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
ARCHITECTURE = DOCS / "architecture.md"
# Where the names of code are: the project's packages.
CODE = ("bulkyard", "config")
# Pages that describe the code as it is (decision records describe it as it was).
GUIDES = [ROOT / "README.md", *sorted(DOCS.glob("*.md")), *sorted((DOCS / "kinds").glob("*.md"))]
# Pages whose code names are checked one by one.
CODE_PAGES = [ARCHITECTURE, *sorted((DOCS / "kinds").glob("*.md"))]
# Folders that hold no Markdown of the project's own.
NOT_OURS = {".git", ".venv", "var", "node_modules", "test-artifacts", "__pycache__"}


def _markdown_files() -> list[Path]:
    found = []
    for folder, subfolders, files in os.walk(ROOT):
        subfolders[:] = [
            name for name in subfolders if name not in NOT_OURS and not name.endswith(".egg-info")
        ]
        found += [Path(folder) / name for name in files if name.endswith(".md")]
    return sorted(found)


MARKDOWN = _markdown_files()
# A dotted name may be written from any of these packages down (``inputs.reader_for``
# for ``bulkyard.jobs.inputs.reader_for``, ``JobKind.finish`` for the SDK's).
NAME_BASES = ("", "bulkyard.", "bulkyard.jobs.", "bulkyard.jobs.services.", "bulkyard.jobs.sdk.")
# Modules that change the process when imported (the web process's marker in
# the environment): named as modules only, never imported here.
ENTRY_POINTS = {"config.asgi", "config.wsgi"}

FENCE = re.compile(r"^ *```.*?^ *```", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
BARE = re.compile(r"[A-Za-z_]\w*_\w*")
FILE_SUFFIXES = {".py", ".md", ".csv", ".txt", ".toml", ".yaml", ".gz", ".zip", ".jsonl", ".json"}
MAP_LINE = re.compile(r"^(?P<indent> *)(?P<name>\S+)(?:\s{2,}(?P<what>.*))?$")


def _prose(path: Path) -> str:
    """A Markdown file without its fenced code blocks."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


def _code_spans(path: Path) -> list[str]:
    return CODE_SPAN.findall(_prose(path))


def _top_level() -> set[str]:
    return {entry.name for entry in ROOT.iterdir()}


# -- the module map ----------------------------------------------------------


def _module_map() -> list[str]:
    """The paths docs/architecture.md's module map lists, folders ending in /."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("## Module map", 1)[1]
    block = section.split("```", 2)[1].split("\n", 1)[1]
    paths: list[str] = []
    stack: list[str] = []
    for line in block.splitlines():
        match = MAP_LINE.match(line)
        if not match:
            continue
        depth = len(match["indent"]) // 2
        stack = [*stack[:depth], match["name"]]
        paths.append("".join(stack))
    return paths


def _modules() -> set[str]:
    """Every module of the project's packages, as the map must list it."""
    return {
        str(path.relative_to(ROOT))
        for package in CODE
        for path in (ROOT / package).rglob("*.py")
        if "migrations" not in path.parts and path.name != "__init__.py"
    }


def test_the_module_map_lists_every_module():
    listed = set(_module_map())

    assert sorted(_modules() - listed) == []


def test_the_module_map_lists_only_what_exists():
    missing = [path for path in _module_map() if not (ROOT / path).exists()]

    assert missing == []


# -- paths -------------------------------------------------------------------


def _named_paths(path: Path) -> list[str]:
    """Paths from the repository's root that a page names in backticks."""
    top = _top_level()
    named = []
    for span in _code_spans(path):
        candidate = span.split()[0] if span.split() else span
        first = candidate.split("/", 1)[0]
        if first in top and ("/" in candidate or Path(candidate).suffix in FILE_SUFFIXES):
            named.append(candidate.rstrip(".,;:"))
    return named


@pytest.mark.parametrize("page", GUIDES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_path_a_page_names_exists(page):
    missing = [named for named in _named_paths(page) if not (ROOT / named).exists()]

    assert missing == []


# -- code names ----------------------------------------------------------------


@cache
def _code_names() -> frozenset[str]:
    """Every name the code defines, uses or spells out as a string, and its
    module names: what a bare name in the docs must be one of."""
    names: set[str] = set()
    for package in CODE:
        for path in (ROOT / package).rglob("*.py"):
            names.add(path.stem)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    names.add(node.name)
                elif isinstance(node, ast.Name):
                    names.add(node.id)
                elif isinstance(node, ast.Attribute):
                    names.add(node.attr)
                elif isinstance(node, ast.arg | ast.keyword) and node.arg:
                    names.add(node.arg)
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    names.update(re.findall(r"\w+", node.value))
    return frozenset(names)


@cache
def _documented_variables() -> frozenset[str]:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    return frozenset(re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`", text, re.MULTILINE))


def _spec_is_package(name: str) -> bool | None:
    """True for a package, False for a plain module, None for neither. Only
    packages are imported to find out (a plain module is looked up, not run)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    return spec.submodule_search_locations is not None


def _resolves_from(parts: list[str], known: int) -> bool | None:
    """Whether ``parts`` name a module or an attribute of one; None if the
    part after the first ``known`` ones is no name there (not this base's)."""
    cut = 0
    while cut < len(parts):
        kind = _spec_is_package(".".join(parts[: cut + 1]))
        if kind is None:
            break
        cut += 1
        if not kind:
            break
    if cut == 0:
        return None
    rest = parts[cut:]
    if not rest:
        return cut > known or None
    if ".".join(parts[:cut]) in ENTRY_POINTS:
        return None
    target: Any = importlib.import_module(".".join(parts[:cut]))
    if cut <= known and not hasattr(target, rest[0]):
        return None
    for attribute in rest:
        if not hasattr(target, attribute):
            return False
        target = getattr(target, attribute)
    return True


def _resolves(dotted: str) -> bool | None:
    """Whether a dotted name is a module of the project or an attribute of
    one, written from any of ``NAME_BASES``: True; False when it starts as a
    name of the code and then goes astray; None when it starts as no name of
    the code (``ctx.work``, ``job.finished``)."""
    verdict: bool | None = None
    for base in NAME_BASES:
        parts = (base + dotted).split(".")
        if parts[0] not in CODE:
            continue
        found = _resolves_from(parts, known=len(base.split(".")) - 1)
        if found:
            return True
        if found is False:
            verdict = False
    return verdict


def _code_names_in(page: Path) -> list[str]:
    """The backticked names of code on a page, a call's arguments dropped."""
    # Dotted, yet no names of code: kinds and queues.
    not_code = {kind.name for kind in registry.all_kinds()} | {
        settings.BULKYARD_QUEUE_CONTROL,
        settings.BULKYARD_QUEUE_IO,
        settings.BULKYARD_QUEUE_CPU,
    }
    names = []
    for span in _code_spans(page):
        name = span.split("(", 1)[0].strip()
        if name in not_code or Path(name).suffix in FILE_SUFFIXES:
            continue
        if DOTTED.fullmatch(name) or BARE.fullmatch(name):
            names.append(name)
    return names


@pytest.mark.parametrize("page", CODE_PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_code_name_a_page_names_exists(page):
    unknown = []
    for name in _code_names_in(page):
        if DOTTED.fullmatch(name):
            if _resolves(name) is False:
                unknown.append(name)
        elif name not in _code_names() and name not in _documented_variables():
            unknown.append(name)

    assert unknown == []


def test_the_architecture_page_names_the_engine_by_its_functions():
    resolved = [name for name in _code_names_in(ARCHITECTURE) if DOTTED.fullmatch(name)]

    assert sum(1 for name in resolved if _resolves(name)) >= 100


# -- links ---------------------------------------------------------------------


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces
    turned into hyphens."""
    text = re.sub(r"`|\*\*|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_anchor(heading) for heading in HEADING.findall(_prose(path))}


def _broken_links(page: Path) -> list[str]:
    broken = []
    for target in LINK.findall(_prose(page)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue  # https:, mailto:
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            broken.append(target)
            continue
        if anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(target)
    return broken


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_link_leads_somewhere(page):
    assert _broken_links(page) == []
