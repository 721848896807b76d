"""Observability against a live platform: a real Prometheus (Debian ``prometheus``) runs the shipped
``configs/prometheus/prometheus.yml`` (targets swapped for loopback ports) and scrapes gunicorn (2 workers),
two scheduler nodes and ``rungrpc`` after they ran tasks and served API and gRPC calls; every panel query
of every Grafana dashboard is evaluated through Prometheus's query API and must return data. The same
platform exports its traces over OTLP/HTTP to a real receiver, checked against what the target got.
Plus static checks of the dashboards, the Grafana provisioning and the Prometheus files."""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import grpc
import httpx
import pytest
import yaml

from djs_platform.config import BASE_DIR
from tests.platform import (ADMIN_PASSWORD, WebProcess, free_port, fresh_database, prepare_database,
                            run_django, scheduler_env)
from tests.targets import HttpTarget, Respond

pytestmark = [pytest.mark.processes, pytest.mark.single_backend]

DASHBOARDS = BASE_DIR / "configs" / "grafana" / "dashboards"
PROVISIONING = BASE_DIR / "configs" / "grafana" / "provisioning"
PROMETHEUS_DIR = BASE_DIR / "configs" / "prometheus"
DATASOURCE_UID = "djs-prometheus"
JOBS = {"djs-web", "djs-scheduler", "djs-grpc"}
PROMETHEUS = "/usr/bin/prometheus"
RATE_INTERVAL = "30s"  # what Grafana's $__rate_interval becomes here (4 x the 1 s scrape interval, rounded up)


def dashboards() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(board: dict) -> list[dict]:
    out = []
    for panel in board["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # collapsed rows keep their panels inside
    return out


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expr) of every query target of every panel."""
    return [(name, panel["title"], target["expr"]) for name, board in dashboards().items()
            for panel in panels(board) for target in panel.get("targets", [])]


def as_prometheus_query(expr: str) -> str:
    """Grafana's built-in interval variables become fixed windows, template variables match everything."""
    expr = expr.replace("$__rate_interval", RATE_INTERVAL).replace("$__interval", "5s").replace("$__range", "5m")
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


# --- static checks -----------------------------------------------------------------------------------

def test_dashboards_are_grafana_json_on_the_provisioned_datasource():
    boards = dashboards()
    assert set(boards) == {"overview.json", "scheduler.json", "api.json"}
    uids = [board["uid"] for board in boards.values()]
    assert len(set(uids)) == len(uids), f"dashboard uids must be unique: {uids}"
    for name, board in boards.items():
        assert board["title"] and board["schemaVersion"] >= 36 and "djs" in board["tags"], name
        assert board.get("id") is None, f"{name}: provisioned dashboards carry no database id"
        ids = [p["id"] for p in panels(board)]
        assert len(set(ids)) == len(ids), f"{name}: duplicate panel ids"
        queries = [p for p in panels(board) if p["type"] != "row"]
        assert queries, name
        for panel in queries:
            assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, (name, panel["title"])
            assert panel["targets"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["expr"].strip() and target["datasource"]["uid"] == DATASOURCE_UID
        for variable in board["templating"]["list"]:
            assert variable["datasource"]["uid"] == DATASOURCE_UID, (name, variable["name"])
            used = f"${variable['name']}"
            assert any(used in t["expr"] for p in queries for t in p["targets"]), f"{name}: {used} is unused"


def test_grafana_provisioning_points_at_the_dashboards():
    (datasource,) = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert datasource["uid"] == DATASOURCE_UID and datasource["type"] == "prometheus"
    (provider,) = yaml.safe_load((PROVISIONING / "dashboards" / "djs.yml").read_text())["providers"]
    assert provider["type"] == "file"
    # docker-compose mounts the repository's directories where the provisioning files look for them.
    grafana = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"])
    assert mounts["./configs/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./configs/grafana/provisioning"] == "/etc/grafana/provisioning"


def test_prometheus_config_and_alert_rules_pass_promtool():
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus) is installed by make test"
    for args in (["check", "config", str(PROMETHEUS_DIR / "prometheus.yml")],
                 ["check", "rules", str(PROMETHEUS_DIR / "alerts.yml")]):
        result = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    assert {job["job_name"] for job in config["scrape_configs"]} == JOBS
    # Every job the dashboards select on is scraped.
    used = {job for _, _, expr in panel_queries() for job in re.findall(r'job="([^"]+)"', expr)}
    assert used <= JOBS, used
    # docker-compose's Prometheus finds the rule files next to its configuration (a missing rule file is
    # silently no alerts at all).
    service = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())["services"]["prometheus"]
    config_path = next(arg.split("=", 1)[1] for arg in service["command"] if arg.startswith("--config.file="))
    mounts = {target: source for source, target, *_ in (v.split(":") for v in service["volumes"])}
    config_dir = str(Path(config_path).parent)
    for rule_file in config["rule_files"]:
        in_container = f"{config_dir}/{rule_file}"
        assert (mounts.get(in_container) == f"./configs/prometheus/{rule_file}"
                or mounts.get(config_dir) == "./configs/prometheus"), f"docker-compose does not mount {in_container}"


# --- the live platform -----------------------------------------------------------------------------------

class Platform:
    def __init__(self):
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.logs: dict[str, Path] = {}

    def spawn(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> subprocess.Popen:
        path = log_dir / f"{name}.log"
        proc = subprocess.Popen(args, env=env, cwd=BASE_DIR, stdout=open(path, "ab"), stderr=subprocess.STDOUT,
                                start_new_session=True)
        self.procs.append((name, proc))
        self.logs[name] = path
        return proc

    def stop(self) -> None:
        for _, proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _, proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def tail(self) -> str:
        return "\n".join(f"--- {name}\n{path.read_text(errors='replace')[-1500:]}" for name, path in self.logs.items())


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited early (code {proc.returncode})")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not listen on {port} within {timeout}s")


TASKS = """
import json
from datetime import datetime, timedelta, timezone
from apps.departments.models import Department
from apps.tasks.models import Task
dept = Department.objects.filter(parent__isnull=True).first()
now = datetime.now(timezone.utc).replace(microsecond=0)
soon = now + timedelta(seconds=3)
base = dict(department=dept, task_type="HTTP", cron_expression="* * * * * *", timezone="UTC", http_method="GET",
            status=1, timeout=5, next_execute_time=soon)
specs = {{
    "ok": dict(url="{url}/ok"),
    "fallback": dict(url="{url}/broken", fallback_url="{url}/ok"),
    "retry": dict(url="{url}/broken", max_retry=1, retry_interval=0),
    "forbid": dict(url="{url}/slow", concurrency_policy="forbid"),
    "misfire": dict(url="{url}/ok", misfire_policy="fire_once", next_execute_time=now - timedelta(seconds=120)),
}}
ids = {{name: Task.objects.create(name=name, **{{**base, **fields}}).pk for name, fields in specs.items()}}
print(json.dumps(ids))
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The running platform, its Prometheus and what its targets received."""
    tmp = tmp_path_factory.mktemp("observability")
    platform = Platform()
    with ExitStack() as stack:
        db_url = stack.enter_context(fresh_database(tmp))
        target = stack.enter_context(HttpTarget())
        collector = stack.enter_context(HttpTarget())  # an OTLP/HTTP traces receiver
        target.on("/broken", status=500)
        target.on("/slow", Respond(delay=1.5))
        grpc_port = free_port()
        metrics = {"node-a": free_port(), "node-b": free_port(), "grpc": free_port()}
        env = scheduler_env(db_url, DJS_SERVER_WORKERS="2", DJS_JOB_MISFIRE_THRESHOLD="5",
                            DJS_JOB_POLL_INTERVAL="0.2", DJS_JOB_HEARTBEAT_INTERVAL="1",
                            DJS_TRACING_EXPORTER="otlp", DJS_TRACING_OTLP_ENDPOINT=collector.url("/v1/traces"),
                            OTEL_BSP_SCHEDULE_DELAY="300")
        prepare_database(env)
        ids = json.loads(run_django(env, TASKS.format(url=target.base_url)).strip().splitlines()[-1])
        stack.callback(platform.stop)
        manage = [sys.executable, str(BASE_DIR / "manage.py")]
        for name in ("node-a", "node-b"):
            platform.spawn(name, manage + ["runscheduler", "--name", name],
                           {**env, "DJS_JOB_METRICS_PORT": str(metrics[name])}, tmp)
        grpc_proc = platform.spawn("grpc", manage + ["rungrpc"], {**env, "DJS_RPC_PORT": str(grpc_port),
                                                                  "DJS_RPC_METRICS_PORT": str(metrics["grpc"])}, tmp)
        web = stack.enter_context(WebProcess(env, tmp / "web.log"))
        for name, port in metrics.items():
            wait_port(port, dict(platform.procs)[name], f"{name} metrics")
        wait_port(grpc_port, grpc_proc, "rungrpc")

        # Prometheus runs the shipped configuration, scraping these processes every second.
        config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
        config["global"].update(scrape_interval="1s", evaluation_interval="1s")
        targets = {"djs-web": [f"127.0.0.1:{web.port}"], "djs-grpc": [f"127.0.0.1:{metrics['grpc']}"],
                   "djs-scheduler": [f"127.0.0.1:{metrics['node-a']}", f"127.0.0.1:{metrics['node-b']}"]}
        for job in config["scrape_configs"]:
            for key in ("static_configs", "dns_sd_configs", "file_sd_configs"):
                job.pop(key, None)
            job["static_configs"] = [{"targets": targets[job["job_name"]]}]
        prom_dir = tmp / "prometheus"
        prom_dir.mkdir()
        shutil.copy(PROMETHEUS_DIR / "alerts.yml", prom_dir / "alerts.yml")
        (prom_dir / "prometheus.yml").write_text(yaml.safe_dump(config))
        prom_port = free_port()
        prom = platform.spawn("prometheus", [PROMETHEUS, f"--config.file={prom_dir / 'prometheus.yml'}",
                                             f"--storage.tsdb.path={prom_dir / 'data'}",
                                             f"--web.listen-address=127.0.0.1:{prom_port}"], dict(os.environ), tmp)
        wait_port(prom_port, prom, "prometheus")
        token = api_login(web.url, ids)
        yield {"platform": platform, "web": web, "token": token, "target": target, "collector": collector, "ids": ids,
               "prometheus": f"http://127.0.0.1:{prom_port}", "grpc": f"127.0.0.1:{grpc_port}", "env": env}


def api_login(web_url: str, ids: dict[str, int]) -> str:
    """A login (and one wrong one: 401), a manual trigger; the token for :func:`api_traffic`."""
    with httpx.Client(base_url=web_url, timeout=10) as client:
        login = client.post("/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        token = login.json()["data"]["token"]
        assert client.post("/auth/login", json={"username": "admin", "password": "wrong-password"}).status_code == 401
        trigger = client.post(f"/tasks/{ids['ok']}/trigger", json={}, headers={"Authorization": f"Bearer {token}"})
        assert trigger.status_code == 200, trigger.text
    return token


def api_traffic(web_url: str, token: str, ids: dict[str, int], rounds: int) -> None:
    """Real API use: lists, a detail, 404s by route and outside any route, an unauthenticated call."""
    with httpx.Client(base_url=web_url, timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(rounds):
            assert client.get("/tasks").status_code == 200
            assert client.get(f"/tasks/{ids['ok']}").status_code == 200
            assert client.get("/tasks/987654321").status_code == 404
            assert client.get("/no/such/route").status_code == 404
            assert client.get("/nodes").status_code == 200
            assert httpx.get(web_url + "/tasks", timeout=10).status_code == 401


def grpc_traffic(address: str) -> None:
    """Real gRPC use: a login, an authorised call, an unauthenticated one (status UNAUTHENTICATED)."""
    from rpc.generated import auth_pb2, auth_pb2_grpc, data_pb2, data_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        login = auth_pb2_grpc.AuthServiceStub(channel).Authenticate(
            auth_pb2.AuthenticateRequest(username="admin", password=ADMIN_PASSWORD), timeout=30)
        assert login.success
        data = data_pb2_grpc.DataServiceStub(channel)
        assert data.GetDepartmentList(data_pb2.DepartmentListRequest(), timeout=30,
                                      metadata=[("authorization", f"Bearer {login.access_token}")]).total >= 1
        with pytest.raises(grpc.RpcError) as refused:
            data.GetDepartmentList(data_pb2.DepartmentListRequest(), timeout=30)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


def query(prometheus: str, expr: str) -> dict:
    resp = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10)
    body = resp.json()
    assert resp.status_code == 200 and body["status"] == "success", (expr, body)
    return body["data"]


def has_data(data: dict) -> bool:
    """A non-empty result with at least one real number (a quantile over no observations is NaN)."""
    if data["resultType"] in ("scalar", "string"):
        return not math.isnan(float(data["result"][1]))
    return any(not math.isnan(float(sample["value"][1])) for sample in data["result"])


def test_every_dashboard_panel_query_returns_data_from_a_live_platform(live):
    prometheus = live["prometheus"]
    queries = [(board, title, expr, as_prometheus_query(expr)) for board, title, expr in panel_queries()]
    assert len(queries) >= 30
    # Until every scrape target is up, traffic keeps flowing; then every query must find data within 60 s.
    deadline = time.monotonic() + 60
    empty: list[str] = []
    grpc_traffic(live["grpc"])
    while time.monotonic() < deadline:
        api_traffic(live["web"].url, live["token"], live["ids"], rounds=2)
        grpc_traffic(live["grpc"])
        targets = httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        up = {(t["labels"]["job"], t["labels"]["instance"]) for t in targets if t["health"] == "up"}
        empty = [f"{board} / {title}: {expr}" for board, title, expr, promql in queries
                 if not has_data(query(prometheus, promql))]
        if len(up) == 4 and not empty:
            break
        time.sleep(1)
    assert {job for job, _ in up} == JOBS and len(up) == 4, f"scrape targets up: {sorted(up)}\n{targets}"
    assert not empty, "panel queries without data:\n  " + "\n  ".join(empty) + "\n" + live["platform"].tail()

    # Spot checks that the data is what the platform did, not just present.
    def value(expr: str) -> float:
        return sum(float(s["value"][1]) for s in query(prometheus, expr)["result"])

    statuses = {s["metric"]["status"] for s in query(
        prometheus, 'sum by (status) (djs_executions_total{job="djs-scheduler"})')["result"]}
    assert {"success", "failed", "skipped"} <= statuses, statuses
    assert value('sum(djs_execution_retries_total{job="djs-scheduler"})') >= 1
    assert value('sum(djs_execution_fallbacks_total{job="djs-scheduler"})') >= 1
    assert value('sum(djs_scheduler_misfires_total{job="djs-scheduler", policy="fire_once"})') >= 1
    assert value('sum(djs_scheduler_fires_total{job="djs-scheduler", trigger="MANUAL"})') >= 1
    assert value('max(djs_scheduler_live_nodes{job="djs-scheduler"})') == 2
    assert value('sum(djs_api_requests_total{job="djs-web", route="/v1/tasks/<int:pk>", status="404"})') >= 2
    assert value('sum(djs_grpc_requests_total{job="djs-grpc", code="UNAUTHENTICATED"})') >= 1


def test_alert_rules_load_and_evaluate_against_the_live_platform(live):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        groups = httpx.get(f"{live['prometheus']}/api/v1/rules", timeout=10).json()["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        if rules and all(rule.get("lastEvaluation", "").startswith("2") for rule in rules):
            break
        time.sleep(0.5)
    names = {rule["name"] for rule in rules}
    assert {"DJSScheduleLagHigh", "DJSNoLiveSchedulerNode", "DJSExecutionFailureRatioHigh"} <= names
    broken = {rule["name"]: rule.get("lastError") for rule in rules if rule["health"] != "ok"}
    assert not broken, broken
    firing = {rule["name"] for rule in rules if rule.get("state") == "firing"}
    assert "DJSNoLiveSchedulerNode" not in firing and "DJSProcessDown" not in firing, firing


def test_traces_of_web_and_scheduler_reach_the_otlp_endpoint(live):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    api_traffic(live["web"].url, live["token"], live["ids"], rounds=1)
    grpc_traffic(live["grpc"])
    collector, target = live["collector"], live["target"]

    def exported() -> dict[str, list]:
        by_service: dict[str, list] = {}
        for post in collector.requests("/v1/traces"):
            for resource_spans in ExportTraceServiceRequest.FromString(post.body).resource_spans:
                service = next(a.value.string_value for a in resource_spans.resource.attributes
                               if a.key == "service.name")
                by_service.setdefault(service, []).extend(
                    span for scope in resource_spans.scope_spans for span in scope.spans)
        return by_service

    hits = target.requests()  # every call so far; their spans are exported within a few batch delays
    assert len(hits) >= 10

    def unmatched(spans: dict[str, list]) -> list[str]:
        scheduler_spans = spans.get("djs-scheduler", [])
        attempts = {s.span_id.hex(): s for s in scheduler_spans if s.name == "djs.attempt"}
        fires = {s.span_id.hex(): s for s in scheduler_spans if s.name == "djs.fire"}
        missing = []
        for hit in hits:
            _, trace_id, span_id, _ = hit.header("traceparent").split("-")
            attempt = attempts.get(span_id)
            fire = fires.get(attempt.parent_span_id.hex()) if attempt is not None else None
            if attempt is None or fire is None or attempt.trace_id.hex() != trace_id or fire.trace_id.hex() != trace_id:
                missing.append(f"{hit.path} traceparent {hit.header('traceparent')}")
        return missing

    def served(spans: dict[str, list], service: str, name: str) -> bool:
        return any(s.name == name and s.kind == s.SPAN_KIND_SERVER for s in spans.get(service, []))

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        spans = exported()
        if (served(spans, "djs-web", "GET v1/tasks") and served(spans, "djs-grpc", "/data.DataService/GetDepartmentList")
                and not unmatched(spans)):
            break
        time.sleep(0.5)
    assert served(spans, "djs-web", "GET v1/tasks"), f"no API request span; services seen: {set(spans)}"
    assert served(spans, "djs-grpc", "/data.DataService/GetDepartmentList"), \
        f"no gRPC call span (rungrpc must call setup_tracing('grpc')); services seen: {set(spans)}"
    # Each call a target received names, in its traceparent, an exported attempt span of the same trace
    # whose parent is the exported fire span.
    missing = unmatched(spans)
    assert not missing, f"{len(missing)} of {len(hits)} target calls without their attempt and fire: {missing[:5]}"
