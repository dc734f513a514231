"""The import contracts of docs/decisions/0012-kind-sdk.md and 0020-cli.md: they
name every kind app (and, for the command-line client, every other package),
they hold for the code as it is, and they fail on an import that breaks them.
(``bin/test`` runs ``lint-imports`` too; these tests keep the contracts honest.)"""

import tomllib
from pathlib import Path

import grimp
import pytest
from django.apps import apps
from django.utils.module_loading import module_has_submodule
from importlinter import api
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def _contracts() -> dict[str, dict]:
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    return {contract["id"]: contract for contract in config["contracts"]}


def _kind_apps() -> set[str]:
    """The project's apps that ship job kinds."""
    return {
        config.name
        for config in apps.get_app_configs()
        if config.name.startswith("bulkyard.")
        and config.name != "bulkyard.jobs"
        and module_has_submodule(config.module, "kinds")
    }


def test_every_kind_app_is_bound_by_both_contracts():
    contracts = _contracts()
    layers = contracts["layers"]["layers"]
    independent = {name.strip() for name in layers[1].split("|")}

    assert _kind_apps() == independent
    assert _kind_apps() <= set(contracts["kind-sdk"]["source_modules"])


def test_the_cli_contract_forbids_every_other_package_of_bulkyard():
    root = PYPROJECT.parent / "bulkyard"
    packages = {f"bulkyard.{path.parent.name}" for path in root.glob("*/__init__.py")} - {
        "bulkyard.cli"
    }
    forbidden = set(_contracts()["cli-standalone"]["forbidden_modules"])

    assert packages - forbidden == set()


@pytest.fixture(scope="module")
def contracts():
    """The contracts as lint-imports reads them, by id, ready to check a graph."""
    classes = {"forbidden": ForbiddenContract, "layers": LayersContract}
    config = api.read_configuration(str(PYPROJECT))
    return {
        options["id"]: classes[options["type"]](
            name=options["name"],
            session_options=config["session_options"],
            contract_options=options,
        )
        for options in config["contracts_options"]
    }


@pytest.fixture
def graph():
    # With the third-party packages, as lint-imports builds it
    # (include_external_packages): the CLI's contract names Django.
    return grimp.build_graph("bulkyard", include_external_packages=True, cache_dir=None)


def test_the_code_keeps_every_contract(contracts, graph):
    assert {
        name: contract.check(graph, verbose=False).kept for name, contract in contracts.items()
    } == dict.fromkeys(contracts, True)


@pytest.mark.parametrize(
    ("importer", "imported", "broken"),
    [
        # A kind reaching into the engine's models, services or internals.
        ("bulkyard.mail.kinds", "bulkyard.jobs.models", "kind-sdk"),
        ("bulkyard.outbound.kinds", "bulkyard.jobs.selectors", "kind-sdk"),
        ("bulkyard.targets.queries", "bulkyard.jobs.parts", "kind-sdk"),
        # One kind importing another, directly or through a shared piece.
        ("bulkyard.mail.kinds", "bulkyard.data.models", "layers"),
        ("bulkyard.targets.registry", "bulkyard.data.models", "layers"),
        # The engine or core importing what sits above them.
        ("bulkyard.jobs.services.finishing", "bulkyard.text.kinds", "layers"),
        ("bulkyard.core.http.client", "bulkyard.jobs.sdk", "layers"),
        # The command-line client reaching into the server's code or its frameworks.
        ("bulkyard.cli.client", "bulkyard.core.exceptions", "cli-standalone"),
        ("bulkyard.cli.main", "django", "cli-standalone"),
        ("bulkyard.cli.config", "config", "cli-standalone"),
    ],
)
def test_an_import_that_breaks_a_contract_fails_it(contracts, graph, importer, imported, broken):
    graph.add_import(importer=importer, imported=imported)

    assert not contracts[broken].check(graph, verbose=False).kept
