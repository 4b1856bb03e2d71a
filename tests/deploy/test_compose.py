"""docker-compose.yml keeps the promises of CONTRACT.md "Topology" and
docs/deployment.md: one published origin, health and restart everywhere,
scalable backend, dev IdP only in the `dev` profile."""

from __future__ import annotations

import json
import re

import pytest

from deploylib import REPO, dockerfile_instructions, interpolate, load_compose, service_environment

SERVICES = {"db", "redis", "backend", "purge", "frontend", "gateway", "dev-idp"}
OWN_IMAGES = {"backend": "backend/Dockerfile", "frontend": "frontend/Dockerfile",
              "gateway": "nginx/Dockerfile", "dev-idp": "dev-idp/Dockerfile"}


@pytest.fixture(scope="module")
def services() -> dict:
    return load_compose()["services"]


def test_the_services_of_the_topology(services):
    assert set(services) == SERVICES


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_healthcheck_and_a_restart_policy(services, name):
    service = services[name]
    assert service.get("restart") in ("unless-stopped", "always")
    assert service.get("healthcheck", {}).get("test")
    assert "container_name" not in service


def test_only_the_gateway_publishes_a_port_besides_the_dev_idp(services):
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"gateway", "dev-idp"}
    assert services["gateway"]["ports"][0] == "${GATEWAY_PORT:-8080}:8080"
    assert services["dev-idp"]["profiles"] == ["dev"]
    # The dev IdP signs anyone in: loopback only.
    assert all(port.startswith("127.0.0.1:") for port in services["dev-idp"]["ports"])


def test_backend_scales(services):
    backend = services["backend"]
    assert "ports" not in backend and "container_name" not in backend
    gateway_env = service_environment(services["gateway"])
    assert gateway_env["BACKEND_UPSTREAM"] == "backend:8000"
    assert gateway_env["UPSTREAM_SERVER_PARAMS"] == "resolve"
    assert gateway_env["GATEWAY_RESOLVER"] == "127.0.0.11"
    env = service_environment(backend, {"MYSQL_PASSWORD": "x"})
    # Counters shared by every replica; dev secrets too (one volume).
    assert env["RATELIMIT_STORAGE_URI"] == "redis://redis:6379/0"
    assert "backend-instance:/app/instance" in backend["volumes"]


def test_backend_settings_secrets_and_start_order(services):
    backend = services["backend"]
    assert backend["env_file"] in (".env", [".env"])
    assert "./secrets:/app/secrets:ro" in backend["volumes"]
    assert backend["depends_on"]["db"]["condition"] == "service_healthy"
    assert backend["depends_on"]["redis"]["condition"] == "service_healthy"
    env = service_environment(backend, {"MYSQL_PASSWORD": "pw"})
    assert env["DATABASE_URL"] == "mysql+pymysql://app:pw@db:3306/auth?charset=utf8mb4"
    assert env["DEV_IDP_URL"] == "http://localhost:9000"
    assert env["DEV_IDP_INTERNAL_URL"] == "http://dev-idp:9000"
    idp_env = service_environment(services["dev-idp"])
    assert idp_env["DEV_IDP_ISSUER"] == env["DEV_IDP_URL"], "the issuer the browser sees is the backend's DEV_IDP_URL"
    assert idp_env["DEV_IDP_HOST"] == "0.0.0.0"


def test_database_is_mysql_84_on_a_named_volume_with_env_credentials(services):
    db = services["db"]
    assert db["image"] == "mysql:8.4"
    assert "db-data:/var/lib/mysql" in db["volumes"]
    assert "db-data" in load_compose()["volumes"]
    env = db["environment"]
    assert env["MYSQL_DATABASE"] == "${MYSQL_DATABASE:-auth}"
    assert env["MYSQL_USER"] == "${MYSQL_USER:-app}"
    assert env["MYSQL_PASSWORD"].startswith("${MYSQL_PASSWORD:?")
    with pytest.raises(ValueError, match="MYSQL_PASSWORD"):
        interpolate(env["MYSQL_PASSWORD"], {})


@pytest.mark.parametrize("name", sorted(OWN_IMAGES))
def test_own_images_have_the_same_healthcheck_as_compose(services, name):
    instructions = dockerfile_instructions(REPO / OWN_IMAGES[name])
    healthcheck = [rest for keyword, rest in instructions if keyword == "HEALTHCHECK"]
    assert healthcheck, f"{OWN_IMAGES[name]} has no HEALTHCHECK"
    image_test = json.loads(re.search(r"CMD (\[.*\])$", healthcheck[-1]).group(1))
    compose_test = services[name]["healthcheck"]["test"]
    if name == "dev-idp":  # the image reads DEV_IDP_PORT; compose fixes it to 9000
        assert compose_test[:3] == ["CMD", "node", "-e"]
        assert "/health" in compose_test[3]
    else:
        assert compose_test == ["CMD", *image_test]


def test_pinned_base_images():
    for path in OWN_IMAGES.values():
        for keyword, rest in dockerfile_instructions(REPO / path):
            if keyword == "FROM":
                image = rest.split()[0]
                assert ":" in image and not image.endswith(":latest"), (path, image)


def test_purge_job_runs_the_backend_image_with_the_backends_settings(services):
    purge, backend = services["purge"], services["backend"]
    assert purge["build"] == backend["build"]
    assert purge["entrypoint"][:3] == ["flask", "purge", "--every"]
    assert purge["environment"] == backend["environment"]
    assert purge["volumes"] == backend["volumes"]
    assert purge["env_file"] == backend["env_file"]
    assert purge["depends_on"]["backend"]["condition"] == "service_healthy"
    assert "ports" not in purge
