"""The configuration reference cannot drift from the code.

Every environment variable Bulkyard reads is found in the sources: the calls on
``config.env``'s reader in ``config/`` and ``bulkyard/`` (read with ``ast``, so
line breaks and aliases do not hide one), the defaults the entry points set
(``os.environ.setdefault``), and the ``${NAME}`` the Procfile, the Compose file
and the ``bin/`` scripts expand. Each must have its row in
``docs/configuration.md``; each one a deployment sets must have its line in
``.env.example`` (set, or commented out with its default); and neither file may
list a variable that nothing reads any more. Adding a variable: read it through
``config.env.env`` with its name written out (or in a module-level constant),
give it a row in the reference and a line in ``.env.example``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeGuard

import pytest

ROOT = Path(__file__).resolve().parents[2]
READER_MODULE = "config.env"
# Where the environment may be read, through the reader only.
PYTHON_SOURCES = ("config", "bulkyard", "manage.py")
# Files whose ${NAME} the shell or docker compose expand, reading .env too.
DEPLOYMENT_FILES = ("Procfile", "docker-compose.yaml")
# Helper scripts: their variables are documented, not put in .env.example
# (bin/setup runs before anything reads .env).
SCRIPTS = "bin"
# Read by another program straight from the environment, not by Bulkyard's
# code: named here so that the reference and .env.example may list them.
READ_BY_OTHER_PROGRAMS = {"FLOWER_BASIC_AUTH": "Flower reads its FLOWER_* options itself"}

VARIABLE = r"[A-Z][A-Z0-9_]*"
EXPANSION = re.compile(rf"\$\{{({VARIABLE})")
REFERENCE_ROW = re.compile(rf"^\|\s*`({VARIABLE})`\s*\|", re.MULTILINE)
EXAMPLE_LINE = re.compile(rf"^#?\s*({VARIABLE})=", re.MULTILINE)


@dataclass
class Reads:
    """What a scan found: each variable with the places that read it, and the
    reads the scan could not name."""

    places: dict[str, list[str]] = field(default_factory=dict)
    unnamed: list[str] = field(default_factory=list)
    direct: list[str] = field(default_factory=list)

    def add(self, name: str, place: str) -> None:
        self.places.setdefault(name, []).append(place)


def _reader_names(tree: ast.Module) -> set[str]:
    """Names under which a module holds the reader: imported from config.env,
    or (in config/env.py) made with ``environ.Env()``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == READER_MODULE:
            names.update(alias.asname or alias.name for alias in node.names if alias.name == "env")
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            made = node.value.func
            if isinstance(made, ast.Attribute) and made.attr == "Env":
                names.update(target.id for target in node.targets if isinstance(target, ast.Name))
    return names


_OS_READERS = ("environ", "environb", "getenv")


def _is_os_environ(node: ast.AST) -> TypeGuard[ast.Attribute]:
    """``os.environ``, ``os.environb`` or ``os.getenv``."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
        and node.attr in _OS_READERS
    )


def module_constants(tree: ast.Module) -> dict[str, str]:
    """A module's top-level ``NAME = "text"`` assignments: a variable's name
    may be kept in one."""
    found = {}
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            found.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
    return found


def _known_names(tree: ast.Module, constants: Mapping[str, dict[str, str]]) -> dict[str, str]:
    """String constants a module can name: its own, and those it imports from
    the scanned modules (``constants``, by module)."""
    known = module_constants(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module in constants:
            theirs = constants[node.module]
            known.update(
                {a.asname or a.name: theirs[a.name] for a in node.names if a.name in theirs}
            )
    return known


def scan_python(
    source: str, where: str, reads: Reads, constants: Mapping[str, dict[str, str]] | None = None
) -> None:
    """The variables one module reads, into ``reads``."""
    tree = ast.parse(source)
    readers = _reader_names(tree)
    known = _known_names(tree, constants or {})
    setdefaults: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        call = node.func
        on_reader = setdefault = False
        if isinstance(call, ast.Name):
            on_reader = call.id in readers
        elif isinstance(call, ast.Attribute):
            on_reader = isinstance(call.value, ast.Name) and call.value.id in readers
            setdefault = call.attr == "setdefault" and _is_os_environ(call.value)
            if setdefault:
                setdefaults.add(id(call.value))
        if not (on_reader or setdefault):
            continue
        place = f"{where}:{node.lineno}"
        name = node.args[0] if node.args else None
        if isinstance(name, ast.Constant) and isinstance(name.value, str):
            reads.add(name.value, place)
        elif isinstance(name, ast.Name) and name.id in known:
            reads.add(known[name.id], place)
        elif on_reader:
            reads.unnamed.append(place)
        # A setdefault with a computed name (config/settings/test.py's
        # defaults) names variables the reader reads anyway.
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            read = node.module == "os" and any(a.name in _OS_READERS for a in node.names)
        else:
            read = _is_os_environ(node) and id(node) not in setdefaults
        if read:
            reads.direct.append(f"{where}:{getattr(node, 'lineno', '?')}")


def scan_expansions(text: str, where: str, reads: Reads) -> None:
    for number, line in enumerate(text.splitlines(), start=1):
        for name in EXPANSION.findall(line):
            reads.add(name, f"{where}:{number}")


def _python_files() -> list[Path]:
    files: list[Path] = []
    for entry in PYTHON_SOURCES:
        path = ROOT / entry
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return [f for f in files if "migrations" not in f.parts]


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.fixture(scope="module")
def code() -> Reads:
    """Variables Bulkyard's Python code and its deployment files read."""
    reads = Reads()
    sources = {path: path.read_text(encoding="utf-8") for path in _python_files()}
    constants = {_module(p): module_constants(ast.parse(text)) for p, text in sources.items()}
    for path, text in sources.items():
        scan_python(text, _relative(path), reads, constants)
    for entry in DEPLOYMENT_FILES:
        scan_expansions((ROOT / entry).read_text(encoding="utf-8"), entry, reads)
    return reads


@pytest.fixture(scope="module")
def scripts() -> Reads:
    reads = Reads()
    for path in sorted((ROOT / SCRIPTS).iterdir()):
        scan_expansions(path.read_text(encoding="utf-8"), _relative(path), reads)
    return reads


@pytest.fixture(scope="module")
def reference() -> list[str]:
    """The variables docs/configuration.md has a row for, in order."""
    return REFERENCE_ROW.findall((ROOT / "docs" / "configuration.md").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def example() -> set[str]:
    """The variables .env.example sets or shows commented out."""
    return set(EXAMPLE_LINE.findall((ROOT / ".env.example").read_text(encoding="utf-8")))


def _listing(names: set[str], reads: Reads | None = None) -> str:
    def where(name: str) -> str:
        return f"  (read at {reads.places[name][0]})" if reads and name in reads.places else ""

    return "\n".join(f"  {name}{where(name)}" for name in sorted(names))


def test_every_read_names_its_variable(code):
    assert not code.unnamed, (
        "environment reads whose variable name is computed: write the name out (or keep it "
        "in a module-level constant), so that the configuration check can see it:\n  "
        + "\n  ".join(code.unnamed)
    )


def test_only_the_reader_reads_the_environment(code):
    assert not code.direct, (
        "os.environ / os.getenv read outside config/env.py's reader (read the variable "
        "through config.env.env; only os.environ.setdefault, which sets a default, may "
        "stay):\n  " + "\n  ".join(code.direct)
    )


def test_every_variable_read_has_a_row_in_the_reference(code, scripts, reference):
    missing = (set(code.places) | set(scripts.places)) - set(reference)
    assert not missing, (
        "variables the code reads that docs/configuration.md does not document (add a row: "
        "| `NAME` | default | what it does |):\n" + _listing(missing, code)
    )


def test_every_variable_read_has_a_line_in_env_example(code, example):
    missing = set(code.places) - example
    assert not missing, (
        "variables the code reads that .env.example does not list (add NAME=value, or "
        "# NAME=default when the default is right for most deployments):\n"
        + _listing(missing, code)
    )


def test_the_reference_documents_only_variables_that_are_read(code, scripts, reference):
    known = set(code.places) | set(scripts.places) | set(READ_BY_OTHER_PROGRAMS)
    stale = set(reference) - known
    assert not stale, (
        "docs/configuration.md documents variables nothing reads any more (remove their "
        "rows):\n" + _listing(stale)
    )
    repeated = {name for name in reference if reference.count(name) > 1}
    assert not repeated, "docs/configuration.md has two rows for:\n" + _listing(repeated)


def test_env_example_lists_only_variables_that_are_read(code, example):
    stale = example - set(code.places) - set(READ_BY_OTHER_PROGRAMS)
    assert not stale, ".env.example lists variables nothing reads any more:\n" + _listing(stale)


SAMPLE = """
import os
from config.env import env as environment
from config.env import VAR_DIR
from config.names import KEPT_ELSEWHERE

A = environment.int(
    "SPREAD_OVER_LINES",
    default=1,
)
B = environment("CALLED_DIRECTLY")
C = environment.str(f"{PREFIX}_COMPUTED")
os.environ.setdefault("GIVEN_A_DEFAULT", "x")
D = os.environ.get("READ_DIRECTLY")
E = os.getenv("READ_DIRECTLY_TOO")
F = {"env": 1}.get("NOT_THE_READER")
KEPT_HERE = "IN_A_CONSTANT"
G = environment.list(KEPT_HERE)
H = environment.bool(KEPT_ELSEWHERE)
"""


def test_the_scan_sees_reads_however_they_are_written():
    reads = Reads()
    scan_python(SAMPLE, "sample.py", reads, {"config.names": {"KEPT_ELSEWHERE": "IMPORTED"}})

    assert set(reads.places) == {
        "SPREAD_OVER_LINES",
        "CALLED_DIRECTLY",
        "GIVEN_A_DEFAULT",
        "IN_A_CONSTANT",
        "IMPORTED",
    }
    assert reads.unnamed == ["sample.py:12"]
    assert sorted(reads.direct) == ["sample.py:14", "sample.py:15"]


def test_the_scan_reads_expansions_of_shell_and_compose_files():
    reads = Reads()
    scan_expansions(
        '--concurrency ${WORKER_CONCURRENCY:-2} "${POSTGRES_PASSWORD:?set}" $PATH',
        "Procfile",
        reads,
    )

    assert set(reads.places) == {"WORKER_CONCURRENCY", "POSTGRES_PASSWORD"}
