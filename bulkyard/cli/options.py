"""The connection options every command takes (``--url``, ``--token``,
``--config`` and their variables), before or after the command's name, and the
API client they make."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from bulkyard.cli import render
from bulkyard.cli.client import ApiClient
from bulkyard.cli.config import Given, Settings, Source, resolve

# Flags win over the environment; click tells which one gave a value.
_SOURCES = {
    ParameterSource.COMMANDLINE: Source.FLAG,
    ParameterSource.ENVIRONMENT: Source.ENVIRONMENT,
}
_ENV_NAMES = {"url": "BULKYARD_URL", "token": "BULKYARD_TOKEN", "config": "BULKYARD_CONFIG"}


@dataclass
class Connection:
    """The connection options as given, before or after the command's name
    (``bulkyard --url U status ID`` or ``bulkyard status ID --url U``)."""

    url: Given | None = None
    token: Given | None = None
    config: Given | None = None
    _settings: Settings | None = None

    def offer(self, name: str, given: Given) -> None:
        current = getattr(self, name)
        if current is None or given.source >= current.source:
            setattr(self, name, given)

    def settings(self) -> Settings:
        if self._settings is None:
            path = Path(self.config.value).expanduser() if self.config else None
            self._settings = resolve(url=self.url, token=self.token, config_path=path)
            for warning in self._settings.warnings:
                render.errors().print(f"warning: {warning}", style="yellow")
        return self._settings

    def client(self) -> ApiClient:
        settings = self.settings()
        return ApiClient(url=settings.url.value, token=settings.require_token())


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is None or param.name is None:
        return
    source = _SOURCES.get(ctx.get_parameter_source(param.name) or ParameterSource.DEFAULT)
    if source is None:
        return
    label = param.opts[0] if source is Source.FLAG else _ENV_NAMES[param.name]
    ctx.ensure_object(Connection).offer(param.name, Given(str(value), source, label))


def connection_options(command: Any) -> Any:
    """``--url``, ``--token`` and ``--config``, with their variables."""
    remembered: dict[str, Any] = {
        "expose_value": False,
        "callback": _remember,
        "show_envvar": True,
    }
    options = [
        click.option(
            "--url",
            envvar="BULKYARD_URL",
            help="The server, e.g. https://bulkyard.example.com [default: http://127.0.0.1:8000].",
            **remembered,
        ),
        click.option(
            "--token",
            envvar="BULKYARD_TOKEN",
            help="Your API token (rather the variable or the config file: "
            "flags show in the process list).",
            **remembered,
        ),
        click.option(
            "--config",
            envvar="BULKYARD_CONFIG",
            type=click.Path(dir_okay=False),
            help="A TOML file with url and token [default: ~/.config/bulkyard/config.toml].",
            **remembered,
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def connection(ctx: click.Context) -> Connection:
    return ctx.ensure_object(Connection)
