"""docker-compose.yaml, read as Compose reads it (YAML with merge keys): what
it publishes and what it requires. Docker itself is not needed."""

from typing import Any

import yaml

from tests.support.servers import ROOT


def _services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    return dict(compose["services"])


def test_postgresql_is_published_on_the_loopback_interface_only():
    ports = _services()["db"]["ports"]

    assert ports
    assert all(str(port).startswith("127.0.0.1:") for port in ports)


def test_every_app_container_requires_the_secret_key_from_env():
    apps = {name: service for name, service in _services().items() if "build" in service}

    assert set(apps) >= {"migrate", "web", "worker-io", "worker-cpu", "beat"}
    for name, service in apps.items():
        key = service["environment"]["DJANGO_SECRET_KEY"]
        assert key.startswith("${DJANGO_SECRET_KEY:?"), name
