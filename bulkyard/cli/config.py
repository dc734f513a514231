"""Where the client finds the server and its token.

Each value comes from the first of: a flag (``--url``, ``--token``), the
environment (``BULKYARD_URL``, ``BULKYARD_TOKEN``; click reads them, see
``main``), the config file, the default. The config file is ``--config`` or
``$BULKYARD_CONFIG`` (then it must exist), else ``config.toml`` in the
platform's config folder for the app (``~/.config/bulkyard/`` on Linux), if it
exists. It is TOML::

    url = "https://bulkyard.example.com"
    token = "…"
"""

import enum
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import click

from bulkyard.cli.errors import UsageProblem

DEFAULT_URL = "http://127.0.0.1:8000"
CONFIG_KEYS = ("url", "token")


class Source(enum.IntEnum):
    """Where a value came from; a higher one wins."""

    DEFAULT = 0
    CONFIG_FILE = 1
    ENVIRONMENT = 2
    FLAG = 3


@dataclass(frozen=True)
class Given:
    """A value and where it came from (``label`` names it for the user:
    ``--url``, ``BULKYARD_TOKEN``, the config file's path)."""

    value: str
    source: Source
    label: str


@dataclass(frozen=True)
class Settings:
    url: Given
    token: Given | None
    config_path: Path
    config_found: bool
    # Said once on stderr before the command runs (a token readable by others).
    warnings: tuple[str, ...] = field(default=())

    def require_token(self) -> str:
        if self.token is None:
            raise UsageProblem(
                "no API token: pass --token, set BULKYARD_TOKEN, or write "
                f'token = "…" in {self.config_path} '
                "(a server admin makes one with `manage.py create_api_user NAME --token-only`)"
            )
        return self.token.value


def default_config_path() -> Path:
    """``~/.config/bulkyard/config.toml`` on Linux (``$XDG_CONFIG_HOME`` if
    set), the platform's own place for an app's settings elsewhere."""
    return Path(click.get_app_dir("bulkyard")) / "config.toml"


def resolve(
    *,
    url: Given | None = None,
    token: Given | None = None,
    config_path: Path | None = None,
) -> Settings:
    """The settings from what the command line and the environment gave
    (``url``, ``token``; the higher source of the two already chosen) and the
    config file. ``config_path`` is one the user named, which must exist;
    None means the default file, read if it exists."""
    path = config_path or default_config_path()
    found = path.is_file()
    if config_path is not None and not found:
        raise UsageProblem(f"the config file {path} does not exist")
    from_file = _read_config(path) if found else {}
    label = str(path)
    url = _higher(url, _given(from_file.get("url"), Source.CONFIG_FILE, label))
    token = _higher(token, _given(from_file.get("token"), Source.CONFIG_FILE, label))
    chosen_url = url or Given(DEFAULT_URL, Source.DEFAULT, "default")
    warnings: tuple[str, ...] = ()
    if token is not None and token.source is Source.CONFIG_FILE and _readable_by_others(path):
        warnings = (f"{path} holds a token and others may read it: chmod 600 {path}",)
    return Settings(
        url=Given(normalise_url(chosen_url), chosen_url.source, chosen_url.label),
        token=token,
        config_path=path,
        config_found=found,
        warnings=warnings,
    )


def normalise_url(given: Given) -> str:
    """The server's base URL, without a trailing slash; ``…/api/v1/`` (the
    API's own root, often copied from a browser) is cut back to the base."""
    url = given.value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageProblem(
            f"the server URL {given.value!r} (from {given.label}) must be "
            "http:// or https:// and a host, e.g. https://bulkyard.example.com"
        )
    if parts.query or parts.fragment:
        raise UsageProblem(f"the server URL {given.value!r} (from {given.label}) has a query")
    return url.removesuffix("/api/v1")


def _given(value: str | None, source: Source, label: str) -> Given | None:
    return None if value is None else Given(value, source, label)


def _higher(first: Given | None, second: Given | None) -> Given | None:
    candidates = [given for given in (first, second) if given is not None and given.value.strip()]
    return max(candidates, key=lambda given: given.source, default=None)


def _read_config(path: Path) -> dict[str, str]:
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise UsageProblem(f"cannot read the config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageProblem(f"the config file {path} is not valid TOML: {exc}") from None
    # Strict, so that a misspelt key is an error rather than a setting
    # silently not taken.
    unknown = sorted(set(data) - set(CONFIG_KEYS))
    if unknown:
        raise UsageProblem(
            f"the config file {path} has unknown keys {', '.join(unknown)} "
            f"(it may set {', '.join(CONFIG_KEYS)})"
        )
    for key, value in data.items():
        if not isinstance(value, str):
            raise UsageProblem(f"in the config file {path}, {key} must be a string")
    return data


def _readable_by_others(path: Path) -> bool:
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & (stat.S_IRGRP | stat.S_IROTH))
