"""docker-compose.yaml, read as Compose reads it (YAML with merge keys): what
it publishes and what it requires. Docker itself is not needed."""

from typing import Any

import yaml

from tests.support.servers import ROOT


def _services() -> dict[str, Any]:
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    return dict(compose["services"])


def _apps() -> dict[str, Any]:
    """The services that run the Bulkyard image."""
    return {name: service for name, service in _services().items() if "build" in service}


def test_postgresql_is_published_on_the_loopback_interface_only():
    ports = _services()["db"]["ports"]

    assert ports
    assert all(str(port).startswith("127.0.0.1:") for port in ports)


def test_every_app_container_requires_the_secret_key_from_env():
    apps = _apps()

    assert set(apps) >= {"migrate", "web", "worker-io", "worker-cpu", "beat"}
    for name, service in apps.items():
        key = service["environment"]["DJANGO_SECRET_KEY"]
        assert key.startswith("${DJANGO_SECRET_KEY:?"), name


def test_no_app_container_mounts_a_volume_for_job_files():
    for name, service in _apps().items():
        assert not service.get("volumes"), name


def test_every_app_container_keeps_job_files_in_minio():
    for name, service in _apps().items():
        environment = service["environment"]
        assert environment["BULKYARD_STORAGE"] == "s3", name
        assert environment["BULKYARD_S3_ENDPOINT_URL"] == "http://minio:9000", name
        assert environment["BULKYARD_S3_ADDRESSING_STYLE"] == "path", name
        assert environment["BULKYARD_S3_CHECKSUMS"] == "when_required", name
        assert environment["BULKYARD_MULTI_HOST"] == "true", name


def test_app_containers_wait_for_the_bucket_minio_has_made():
    services = _services()
    bucket = services["minio-bucket"]
    command = " ".join(bucket["command"])

    assert "minio/" + services["web"]["environment"]["BULKYARD_S3_BUCKET"] in command
    assert bucket["depends_on"]["minio"]["condition"] == "service_healthy"
    for name in ("web", "worker-io", "worker-cpu", "beat"):
        wait = services[name]["depends_on"]["minio-bucket"]["condition"]
        assert wait == "service_completed_successfully", name


def test_minio_is_published_on_the_loopback_interface_only():
    ports = _services()["minio"]["ports"]

    assert ports
    assert all(str(port).startswith("127.0.0.1:") for port in ports)


def test_minio_credentials_are_required_from_env():
    services = _services()
    minio = services["minio"]["environment"]

    assert minio["MINIO_ROOT_USER"].startswith("${MINIO_ROOT_USER:?")
    assert minio["MINIO_ROOT_PASSWORD"].startswith("${MINIO_ROOT_PASSWORD:?")
    for name, service in _apps().items():
        environment = service["environment"]
        assert environment["AWS_ACCESS_KEY_ID"].startswith("${MINIO_ROOT_USER:?"), name
        assert environment["AWS_SECRET_ACCESS_KEY"].startswith("${MINIO_ROOT_PASSWORD:?"), name


def test_minio_keeps_its_data_in_a_named_volume():
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    volume = compose["services"]["minio"]["volumes"][0].split(":")[0]

    assert volume in compose["volumes"]


def test_redis_keeps_an_append_only_file():
    command = _services()["redis"]["command"]

    assert command[command.index("--appendonly") + 1] == "yes"
