"""docker-compose.yml and the Dockerfile, verified statically (no Docker engine runs here)."""
from __future__ import annotations

import re
import shlex

import pytest
import yaml
from django.core.management import get_commands
from django.urls import Resolver404, resolve

from djs_platform.config import BASE_DIR, load_config

COMPOSE = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ("web", "rpc", "scheduler")
DOCKERFILE = (BASE_DIR / "Dockerfile").read_text()
DEFAULTS = load_config(environ={})


def _command(service: str) -> list[str]:
    command = SERVICES[service]["command"]
    if command[:2] == ["sh", "-c"]:
        return shlex.split(command[2].replace("&&", " && "))
    return command


def test_compose_has_every_component():
    assert set(SERVICES) == {"mysql", "redis", "web", "rpc", "scheduler", "prometheus", "grafana"}


@pytest.mark.parametrize("service", APP_SERVICES)
def test_app_service_commands_exist(service):
    words = _command(service)
    commands = get_commands()
    for index, word in enumerate(words):
        if word == "manage.py":
            assert words[index + 1] in commands, f"{service}: manage.py {words[index + 1]} does not exist"
        if word == "-c" and "gunicorn" in words:
            assert (BASE_DIR / words[index + 1]).is_file()
    assert any(w in ("manage.py", "gunicorn") for w in words)


def test_published_ports_match_the_configuration():
    assert SERVICES["web"]["ports"] == [f"{DEFAULTS['server.port']}:{DEFAULTS['server.port']}"]
    assert SERVICES["web"]["environment"]["DJS_SERVER_PORT"] == str(DEFAULTS["server.port"])
    assert SERVICES["rpc"]["ports"] == [f"{DEFAULTS['rpc.port']}:{DEFAULTS['rpc.port']}"]
    assert SERVICES["rpc"]["environment"]["DJS_RPC_PORT"] == str(DEFAULTS["rpc.port"])
    assert "ports" not in SERVICES["scheduler"], "published ports would break `--scale scheduler=N`"


def test_schedulers_drain_before_docker_kills_them():
    grace = int(SERVICES["scheduler"]["stop_grace_period"].rstrip("s"))
    assert grace > DEFAULTS["job.shutdownGrace"]


@pytest.mark.parametrize("service", list(SERVICES))
def test_volume_sources_exist(service):
    for volume in SERVICES[service].get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (BASE_DIR / source).exists(), f"{service}: {source} missing"
        else:
            assert source in COMPOSE["volumes"], f"{service}: named volume {source} not declared"


def test_web_healthcheck_calls_a_real_endpoint():
    test = " ".join(SERVICES["web"]["healthcheck"]["test"])
    path = re.search(r"http://127\.0\.0\.1:(\d+)(/[^'\"]+)", test)
    assert path and path.group(1) == str(DEFAULTS["server.port"])
    try:
        match = resolve(path.group(2))
    except Resolver404:  # pragma: no cover - the assertion below explains
        match = None
    assert match is not None and match.url_name == "health"


def test_scheduler_healthcheck_uses_its_metrics_port():
    env = SERVICES["scheduler"]["environment"]
    test = " ".join(SERVICES["scheduler"]["healthcheck"]["test"])
    assert f"127.0.0.1:{env['DJS_JOB_METRICS_PORT']}/metrics" in test
    assert env["DJS_JOB_METRICS_HOST"] == "0.0.0.0"


def test_rpc_healthcheck_uses_grpc_health_on_the_rpc_port():
    test = " ".join(SERVICES["rpc"]["healthcheck"]["test"])
    assert "grpc_health" in test and f"127.0.0.1:{DEFAULTS['rpc.port']}" in test
    import grpc_health.v1.health_pb2  # noqa: F401 - the module the healthcheck imports exists


@pytest.mark.parametrize("service", APP_SERVICES)
def test_compose_sets_only_variables_that_configure_something(service):
    """A DJS_* variable that names no key would be a start-up warning in every container (issue 18)."""
    environ = {name: str(value) for name, value in SERVICES[service]["environment"].items()}
    assert load_config(environ=environ).warnings == []


def test_secrets_have_no_defaults():
    text = (BASE_DIR / "docker-compose.yml").read_text()
    for name in ("DJS_JWT_SECRET", "DJS_ADMIN_PASSWORD", "DJS_DB_PASSWORD", "DJS_DB_ROOT_PASSWORD",
                 "GRAFANA_ADMIN_PASSWORD"):
        assert re.search(r"\$\{" + name + r":\?", text), f"{name} must be required (${{{name}:?...}})"
        assert not re.search(r"\$\{" + name + r":-", text), f"{name} must not have a default"


def test_mysql_is_initialised_from_init_sql():
    assert "./scripts/init-db:/docker-entrypoint-initdb.d:ro" in SERVICES["mysql"]["volumes"]
    assert (BASE_DIR / "scripts" / "init-db" / "init.sql").is_file()


def test_dockerfile_copies_only_files_that_exist():
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY") and "--from=" not in line:
            sources = line.split()[1:-1]
            for source in sources:
                assert (BASE_DIR / source).exists(), f"Dockerfile: {source} does not exist"


def test_dockerfile_is_multi_stage_and_runs_unprivileged():
    stages = re.findall(r"^FROM (\S+) AS (\w+)", DOCKERFILE, flags=re.M)
    assert [name for _, name in stages] == ["console", "wheels", "runtime"]
    assert all(":" in image for image, _ in stages), "base images must carry a tag"
    assert "npm run build" in DOCKERFILE and "COPY --from=console" in DOCKERFILE
    assert re.search(r"^USER djs$", DOCKERFILE, flags=re.M)
    cmd = re.search(r'^CMD \["python", "-m", "gunicorn", "-c", "([^"]+)"\]', DOCKERFILE, flags=re.M)
    assert cmd and (BASE_DIR / cmd.group(1)).is_file()


def test_prometheus_scrapes_every_component_where_compose_serves_it():
    config = yaml.safe_load((BASE_DIR / "configs" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    web = jobs["djs-web"]
    assert web["metrics_path"] == "/v1/metrics"
    assert web["static_configs"][0]["targets"] == [f"web:{SERVICES['web']['environment']['DJS_SERVER_PORT']}"]
    scheduler = jobs["djs-scheduler"]["dns_sd_configs"][0]
    assert scheduler["names"] == ["scheduler"]
    assert str(scheduler["port"]) == SERVICES["scheduler"]["environment"]["DJS_JOB_METRICS_PORT"]
    assert jobs["djs-grpc"]["static_configs"][0]["targets"] == [
        f"rpc:{SERVICES['rpc']['environment']['DJS_RPC_METRICS_PORT']}"]
    mounted = {v.split(":")[0] for v in SERVICES["prometheus"]["volumes"]}
    assert "./configs/prometheus" in mounted
    for rule_file in config.get("rule_files", []):
        assert (BASE_DIR / "configs" / "prometheus" / rule_file).is_file()


def test_grafana_provisioning_points_at_the_mounted_dashboards():
    provider = yaml.safe_load((BASE_DIR / "configs/grafana/provisioning/dashboards/djs.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    mounts = dict(v.split(":")[:2] for v in SERVICES["grafana"]["volumes"] if v.startswith("./"))
    assert mounts["./configs/grafana/dashboards"] == path
    assert list((BASE_DIR / "configs/grafana/dashboards").glob("*.json"))
