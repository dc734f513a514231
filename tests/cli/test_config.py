"""Where the server URL and the token come from: a flag, then the
environment, then the config file, then the default (no server needed)."""

import json
import os

import pytest

from bulkyard.cli import main
from bulkyard.cli.config import DEFAULT_URL, Given, Source, resolve
from bulkyard.cli.errors import ExitCode, UsageProblem


@pytest.fixture
def config_home(tmp_path, monkeypatch):
    """A user with no configuration: the default config file is under it."""
    for name in ("BULKYARD_URL", "BULKYARD_TOKEN", "BULKYARD_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path / "config" / "bulkyard"


def _write(path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path


def _shown(capsys, *args: str) -> dict:
    """What ``bulkyard config --json`` says."""
    assert main.run(["config", "--json", *args]) == ExitCode.OK
    return json.loads(capsys.readouterr().out)


def test_with_nothing_set_the_url_is_the_default_and_there_is_no_token(config_home):
    settings = resolve()

    assert (settings.url.value, settings.token) == (DEFAULT_URL, None)


def test_the_config_file_gives_both(config_home):
    _write(config_home / "config.toml", 'url = "https://by.file"\ntoken = "file-token"\n')

    settings = resolve()

    assert (settings.url.value, settings.token.value) == ("https://by.file", "file-token")


def test_the_environment_wins_over_the_config_file(config_home, monkeypatch, capsys):
    _write(config_home / "config.toml", 'url = "https://by.file"\ntoken = "file-token"\n')
    monkeypatch.setenv("BULKYARD_URL", "https://by.env")

    shown = _shown(capsys)

    assert shown["url"] == {"value": "https://by.env", "from": "BULKYARD_URL"}
    assert shown["token"]["from"] == str(config_home / "config.toml")


def test_a_flag_wins_over_the_environment(config_home, monkeypatch, capsys):
    monkeypatch.setenv("BULKYARD_URL", "https://by.env")
    monkeypatch.setenv("BULKYARD_TOKEN", "env-token-123")

    shown = _shown(capsys, "--url", "https://by.flag")

    assert shown["url"] == {"value": "https://by.flag", "from": "--url"}
    assert shown["token"] == {"value": "env-…", "from": "BULKYARD_TOKEN"}


def test_a_flag_before_the_command_counts_as_one_after_it(config_home, monkeypatch, capsys):
    monkeypatch.setenv("BULKYARD_URL", "https://by.env")

    assert main.run(["--url", "https://by.flag", "config", "--json"]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out)["url"]["from"] == "--url"


def test_bulkyard_config_names_another_file(config_home, monkeypatch, tmp_path, capsys):
    _write(config_home / "config.toml", 'token = "default-file"\n')
    other = _write(tmp_path / "other.toml", 'token = "other-file"\n')
    monkeypatch.setenv("BULKYARD_CONFIG", str(other))

    assert _shown(capsys)["token"]["from"] == str(other)


def test_a_named_config_file_must_exist(config_home, tmp_path):
    with pytest.raises(UsageProblem, match="does not exist"):
        resolve(config_path=tmp_path / "missing.toml")


def test_a_config_file_that_is_not_toml_is_named_in_the_error(config_home):
    path = _write(config_home / "config.toml", "url = \n")

    with pytest.raises(UsageProblem, match=f"{path} is not valid TOML"):
        resolve()


def test_a_misspelt_key_is_an_error_not_ignored(config_home):
    _write(config_home / "config.toml", 'tokne = "x"\n')

    with pytest.raises(UsageProblem, match="unknown keys tokne"):
        resolve()


def test_a_token_file_others_can_read_gets_a_warning(config_home):
    path = _write(config_home / "config.toml", 'token = "x"\n')
    os.chmod(path, 0o644)

    assert resolve().warnings == (f"{path} holds a token and others may read it: chmod 600 {path}",)


def test_an_empty_variable_counts_as_unset(config_home):
    _write(config_home / "config.toml", 'token = "file-token"\n')

    settings = resolve(token=Given("", Source.ENVIRONMENT, "BULKYARD_TOKEN"))

    assert settings.token.value == "file-token"


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("https://bulkyard.example.com/", "https://bulkyard.example.com"),
        ("http://127.0.0.1:8000/api/v1/", "http://127.0.0.1:8000"),
        ("https://example.com/bulkyard", "https://example.com/bulkyard"),
    ],
)
def test_the_url_is_cut_back_to_the_servers_base(config_home, given, url):
    assert resolve(url=Given(given, Source.FLAG, "--url")).url.value == url


def test_a_url_without_scheme_is_refused(config_home):
    with pytest.raises(UsageProblem, match="must be http:// or https://"):
        resolve(url=Given("bulkyard.example.com", Source.FLAG, "--url"))
