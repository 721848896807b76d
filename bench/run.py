#!/usr/bin/env python
"""Side-by-side scheduler benchmark: DJS (1 and 2 nodes), APScheduler 3, Celery 5 beat, calibrated limits.

    .venv/bin/python bench/run.py            # make bench: the full run (~25 min)
    .venv/bin/python bench/run.py --quick    # make bench-quick: short windows, fewer steps (< 3 min)
    .venv/bin/python bench/run.py --only djs --workloads steady

One throwaway MariaDB (durable commits: innodb_flush_log_at_trx_commit=1) and Redis on loopback, one
recording target process (bench/target.py) every system calls. Workloads (bench/common.py):

* steady     N every-second jobs, N raised step by step until p99 lag > 1 s or a fire goes missing; the
             last passing N is the sustained executions/s;
* burst      1,000 jobs due in the same second;
* catalogue  100,000 jobs, 1,000 of them every minute: lag of those, database statements/s while
             nothing is due;
* ha         two scheduler processes of each system: duplicates and misses;
* limit      a bare loop doing DJS's per-fire database writes, and a bare HTTP client loop, against the
             same MariaDB and target.

Per system and case: lag p50/p95/p99/max, executions/s, duplicates, misses, CPU-seconds per 1,000
executions (all processes of the system, from /proc), database statements per execution
(SHOW GLOBAL STATUS Questions delta), peak RSS. One table at the end, with ratios against the best peer
and the limit; JSON under bench/results/ (git-ignored). Not a test: nothing asserts.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT / "scripts"))

import services  # noqa: E402  (scripts/services.py: throwaway MariaDB / Redis)
from common import CpuMeter, Target, Workload, burst, catalogue, fire_report, peak_rss_mb, steady  # noqa: E402
from djs_system import DjsSystem  # noqa: E402

LEAD = 4.0        # seconds between starting a system's processes and its first measured fire
SETTLE = 3.0      # seconds after the window for late fires to arrive


class Mariadb:
    """Statement counters of the shared server."""

    def __init__(self, url: str):
        import MySQLdb
        from urllib.parse import urlparse

        u = urlparse(url)
        self.conn = MySQLdb.connect(host=u.hostname, port=u.port, user=u.username, passwd=u.password or "",
                                    autocommit=True)

    def questions(self) -> int:
        cursor = self.conn.cursor()
        cursor.execute("SHOW GLOBAL STATUS LIKE 'Questions'")
        return int(cursor.fetchone()[1])


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def run_case(system, target: Target, db: Mariadb, make_workload, *, processes: int = 1, seconds: int,
             startup: float = LEAD, idle_probe: float = 0.0, idle_first: bool = False) -> dict:
    """Load a workload, start the system, measure the window, stop. ``make_workload(first)`` builds it."""
    # idle_first: the first fire comes after an idle probe window (catalogue: statements/s while nothing
    # is due), so the workload's first instant is pushed back by the probe.
    extra = idle_probe + LEAD + 4 if idle_first else 0.0
    first = int(time.time() + startup + 2.0 + extra) + 1.0
    workload: Workload = make_workload(first)
    loaded = time.time()
    system.load(workload)
    load_s = time.time() - loaded
    if time.time() > first - startup - extra:  # loading took long: move it later
        first = int(time.time() + startup + extra) + 1.0
        workload = make_workload(first)
        system.load(workload)
    target.dump()
    sids = system.start(processes)
    result: dict = {"system": system.name, "case": workload.name, "processes": processes, "load_s": round(load_s, 1)}
    try:
        idle = None
        if idle_probe:
            # Measured once the processes are up (LEAD) and ending before anything is due.
            time.sleep(max(LEAD, first - idle_probe - 3 - time.time()))  # ends before the 2 s lookahead
            q = db.questions()
            time.sleep(idle_probe)
            idle = round((db.questions() - q - 2) / idle_probe / processes, 1)  # our own 2 SHOW STATUS excluded
        time.sleep(max(0.0, first - time.time()))
        cpu = CpuMeter(sids)
        cpu.start()
        q0 = db.questions()
        time.sleep(max(0.0, first + workload.seconds + SETTLE - time.time()))
        used = cpu.stop()
        statements = db.questions() - q0
        rss = peak_rss_mb(sids)
    finally:
        system.stop()
    if hasattr(system, "records_left_running"):
        # The node stores every result before it exits (drain + final flush): a record still running means the
        # result writer failed, and the figures above lack its writes. Reported, and loud.
        result["records_left_running"] = left = system.records_left_running()
        if left:
            log(f"WARNING {system.name}: {left} record(s) still running after the node stopped: results were not "
                "written (see the node's log); this case's figures do not count the result writes")
    report = fire_report(target.dump(), workload)
    executed = max(1, report["executed"])
    result.update(report)
    result.update(cpu_s=round(used, 2), cpu_s_per_1000=round(used / executed * 1000, 2),
                  db_statements_per_exec=round(statements / executed, 2), peak_rss_mb=rss)
    if idle is not None:
        result["idle_db_statements_per_s"] = idle
    return result


def passes(r: dict) -> bool:
    return r["missed"] == 0 and r["duplicates"] == 0 and (r["lag_p99_ms"] or 0) <= 1000


def ramp(system, target, db, rates: list[int], seconds: int, processes: int = 1) -> tuple[list[dict], int]:
    results, sustained = [], 0
    for rate in rates:
        log(f"{system.name} x{processes}: steady {rate}/s for {seconds}s")
        r = run_case(system, target, db, lambda first, n=rate: steady(n, first, seconds), processes=processes,
                     seconds=seconds)
        log(f"  -> {fmt(r)}")
        results.append(r)
        if not passes(r):
            break
        sustained = rate
    return results, sustained


def fmt(r: dict) -> str:
    return (f"exec/s {r['executions_per_s']} p50 {r['lag_p50_ms']} p99 {r['lag_p99_ms']} max {r['lag_max_ms']} ms, "
            f"dup {r['duplicates']} missed {r['missed']}, cpu/1000 {r['cpu_s_per_1000']} s, "
            f"stmts/exec {r['db_statements_per_exec']}")


def limits(mysql_url: str, target: Target, seconds: float) -> dict:
    """bench/limits.py in child processes (their CPU is their own)."""
    out = {}
    for what, arg in (("db", ["--mysql", mysql_url]), ("http", ["--url", target.job_url("limit")])):
        log(f"limit: {what}")
        proc = subprocess.run([sys.executable, str(BENCH / "limits.py"), what, *arg, "--seconds", str(seconds)],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode:
            raise RuntimeError(f"limits.py {what} failed:\n{proc.stderr[-3000:]}")
        out[what] = json.loads(proc.stdout.strip().splitlines()[-1])
        for name, r in out[what].items():
            log(f"  {name}: {r}")
    target.dump()
    return out


class Plan:
    def __init__(self, quick: bool, seconds: int | None, rates: list[int] | None):
        self.quick = quick
        self.seconds = seconds or (4 if quick else 12)
        self.rates = rates or ([400] if quick else [100, 250, 500, 750, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 5000])
        self.burst = 1000
        self.catalogue = (10_000, 1_000) if quick else (100_000, 1_000)
        self.catalogue_seconds = 65 if not quick else 20
        self.idle_probe = 8.0 if quick else 15.0
        self.ha_rate = 100 if quick else 250
        self.limit_seconds = 2.0 if quick else 5.0


def system_factories(mariadb_url: str, redis_url: str, target: Target, tmp: Path, only: list[str] | None):
    import peers

    factories = {
        "djs": lambda: DjsSystem(mariadb_url, redis_url, target.url, tmp / "djs"),
        "apscheduler": lambda: peers.ApschedulerSystem(mariadb_url, redis_url, target.url, tmp / "aps"),
        "celery-beat": lambda: peers.CeleryBeatSystem(mariadb_url, redis_url, target.url, tmp / "celery"),
    }
    return {k: v for k, v in factories.items() if not only or k in only}


def bench_system(name: str, make, target: Target, db: Mariadb, plan: Plan, workloads: list[str],
                 out: dict) -> None:
    system = make()
    try:
        mine = out.setdefault("systems", {}).setdefault(name, {})
        if "steady" in workloads:
            results, sustained = ramp(system, target, db, plan.rates, plan.seconds)
            mine["steady"], mine["sustained"] = results, sustained
            if name == "djs":
                results2, sustained2 = ramp(system, target, db, plan.rates, plan.seconds, processes=2)
                mine["steady_2_nodes"], mine["sustained_2_nodes"] = results2, sustained2
        if "burst" in workloads:
            log(f"{name}: burst of {plan.burst}")
            r = run_case(system, target, db, lambda first: burst(plan.burst, first), seconds=1)
            log(f"  -> {fmt(r)}")
            mine["burst"] = r
        if "catalogue" in workloads and (name == "djs" or not plan.quick):
            total, per_minute = plan.catalogue
            log(f"{name}: catalogue {total} jobs, {per_minute} every minute, idle probe {plan.idle_probe}s")
            r = run_case(system, target, db, lambda first: catalogue(total, per_minute, first, plan.catalogue_seconds),
                         seconds=plan.catalogue_seconds, idle_probe=plan.idle_probe, startup=LEAD + 2,
                         idle_first=True)
            log(f"  -> {fmt(r)}, idle {r.get('idle_db_statements_per_s')} statements/s")
            mine["catalogue"] = r
        if "ha" in workloads:
            log(f"{name} x2: HA at {plan.ha_rate}/s")
            r = run_case(system, target, db, lambda first: steady(plan.ha_rate, first, plan.seconds), processes=2,
                         seconds=plan.seconds)
            log(f"  -> {fmt(r)}")
            mine["ha"] = r
    finally:
        system.close()


def summary(out: dict) -> str:
    systems = out.get("systems", {})
    lim = out.get("limits", {})
    http_limit = max((v["calls_per_s"] for k, v in lim.get("http", {}).items() if k == "aiohttp (bare)"), default=None)
    db_limit = max((v["fires_per_s"] for k, v in lim.get("db", {}).items() if k.startswith("batched")), default=None)
    limit = min(x for x in (http_limit, db_limit) if x) if (http_limit or db_limit) else None
    peers = {k: v for k, v in systems.items() if k != "djs"}
    best_peer = max((v.get("sustained", 0) for v in peers.values()), default=0)
    rows = []

    def add(label: str, s: dict, key: str) -> None:
        steady_rs = s.get("steady_2_nodes" if key == "sustained_2_nodes" else "steady", [])
        sustained = s.get(key, 0)
        at = next((r for r in steady_rs if r["case"] == f"steady-{sustained}"), None)
        rows.append({
            "system": label, "sustained": sustained,
            "vs_best_peer": round(sustained / best_peer, 2) if best_peer else None,
            "vs_limit": round(sustained / limit, 2) if limit else None,
            "p50": at and at["lag_p50_ms"], "p99": at and at["lag_p99_ms"],
            "cpu": at and at["cpu_s_per_1000"], "stmts": at and at["db_statements_per_exec"],
            "rss": at and at["peak_rss_mb"],
            "burst_p99": s.get("burst", {}).get("lag_p99_ms"),
            "burst_missed": s.get("burst", {}).get("missed"),
            "idle": s.get("catalogue", {}).get("idle_db_statements_per_s"),
            "cat_p99": s.get("catalogue", {}).get("lag_p99_ms"),
            "ha": (f"{s['ha']['duplicates']}/{s['ha']['missed']}" if "ha" in s else None),
        })

    for name, s in systems.items():
        add(f"{name} (1)" if name == "djs" else name, s, "sustained")
        if name == "djs" and "sustained_2_nodes" in s:
            add("djs (2 nodes)", s, "sustained_2_nodes")
    head = ("| system | sustained exec/s | × best peer | × limit | lag p50 / p99 at sustained (ms) | "
            "CPU s / 1000 exec | DB stmts / exec | peak RSS MB | burst 1000 p99 ms (missed) | catalogue p99 ms | "
            "idle DB stmts/s | HA dup/missed |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r['system']} | {r['sustained']} | {r['vs_best_peer']} | {r['vs_limit']} | {r['p50']} / {r['p99']} | "
                     f"{r['cpu']} | {r['stmts']} | {r['rss']} | {r['burst_p99']} ({r['burst_missed']}) | "
                     f"{r['cat_p99']} | {r['idle']} | {r['ha']} |")
    if limit:
        lines.append(f"\nCalibrated limit: {limit:.0f} fires/s = min(bare HTTP client {http_limit:.0f} calls/s, "
                     f"bare DJS database writes batched {db_limit:.0f} fires/s).")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", action="append", help="systems: djs, apscheduler, celery-beat (default all)")
    parser.add_argument("--workloads", action="append",
                        help="steady, burst, catalogue, ha, limits, half (default all)")
    parser.add_argument("--rates", help="comma-separated steady rates (overrides the default ramp)")
    parser.add_argument("--seconds", type=int, help="steady window per step")
    args = parser.parse_args()
    plan = Plan(args.quick, args.seconds, [int(x) for x in args.rates.split(",")] if args.rates else None)
    workloads = args.workloads or ["limits", "steady", "burst", "catalogue", "ha", "half"]
    out: dict = {"quick": plan.quick, "cpus": os.cpu_count(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                 "plan": vars(plan)}
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="djs-bench-") as tmp_name, \
            services.mariadb(durable=True) as mariadb, services.redis() as redis, Target() as target:
        tmp = Path(tmp_name)
        db = Mariadb(mariadb.url)
        if "limits" in workloads:
            scratch = DjsSystem(mariadb.url, redis.url, target.url, tmp / "limits")
            try:
                scratch.load(steady(1, time.time() + 3600, 1))
                scratch.ensure_month_table()
                out["limits"] = limits(scratch.url, target, plan.limit_seconds)
            finally:
                scratch.close()
        for name, make in system_factories(mariadb.url, redis.url, target, tmp, args.only).items():
            try:
                bench_system(name, make, target, db, plan, workloads, out)
            except Exception:  # noqa: BLE001 - one system failing must not lose the others' figures
                log(f"{name} FAILED:\n{traceback.format_exc()}")
                out.setdefault("failures", {})[name] = traceback.format_exc()[-3000:]
        djs = out.get("systems", {}).get("djs", {})
        if "half" in workloads and djs.get("sustained"):
            half = djs["sustained"] // 2
            system = DjsSystem(mariadb.url, redis.url, target.url, tmp / "half")
            try:
                for nodes in (1, 2):
                    log(f"djs x{nodes}: half the sustained rate ({half}/s)")
                    r = run_case(system, target, db, lambda first: steady(half, first, plan.seconds),
                                 processes=nodes, seconds=plan.seconds)
                    log(f"  -> {fmt(r)}")
                    djs[f"half_rate_{nodes}_nodes"] = r
            finally:
                system.close()
    out["elapsed_s"] = round(time.monotonic() - began, 1)
    table = summary(out)
    out["table"] = table
    print("\n" + table, flush=True)
    path = BENCH / "results" / f"run-{time.strftime('%Y%m%d-%H%M%S')}{'-quick' if plan.quick else ''}.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2, default=str))
    log(f"JSON: {path.relative_to(ROOT)} ({out['elapsed_s']} s)")
    if out.get("failures"):
        sys.exit(f"benchmark failed for: {', '.join(out['failures'])}")


if __name__ == "__main__":
    main()
