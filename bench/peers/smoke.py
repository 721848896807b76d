#!/usr/bin/env python
"""Smoke run of the two peers (a script, not a pytest test): throwaway MariaDB (durable) + Redis + target,
then for each peer a steady workload (50 every-second jobs, 6 s) and a burst (1,000 jobs due in the same
second); prints the fire report, CPU seconds of the peer's sessions over the window, load/start times.

    .venv/bin/python bench/peers/smoke.py                       # both peers, steady 50 + burst 1000
    .venv/bin/python bench/peers/smoke.py --peer apscheduler --rate 200 --seconds 10 --burst 0 --mode thread
    .venv/bin/python bench/peers/smoke.py --peer celery-beat --pool threads --concurrency 8

Exits non-zero if a peer misses or duplicates a fire at the steady rate (the expectation at 50/s).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "bench"))

import common  # noqa: E402
import services  # noqa: E402
from peers import ApschedulerSystem, CeleryBeatSystem  # noqa: E402

LEAD = 8          # seconds from workload creation to its first fire
GRACE = 3.0       # seconds after the window to let late fires arrive
LATE_LIMIT = 60   # at most this many seconds waiting for stragglers (burst)
CATALOGUE_LEAD = 60  # seconds from catalogue creation to its first fire (loading 100k jobs takes a while)


def run_case(peer, workload_factory, target: common.Target, expected_total: int | None = None,
             processes: int = 1) -> dict:
    workload = workload_factory()
    began = time.time()
    peer.load(workload)
    loaded = time.time()
    sids = peer.start(processes)
    started = time.time()
    if started > workload.first - 0.5:
        print(f"  warning: started only {workload.first - started:.1f}s before the first fire", flush=True)
    target.dump()  # nothing should have fired yet; start clean
    meter = common.CpuMeter(sids)
    per_process = {f"{i}:{sid}": common.CpuMeter([sid]) for i, sid in enumerate(sids)}
    time.sleep(max(0.0, workload.first - 0.5 - time.time()))
    meter.start()
    for m in per_process.values():
        m.start()
    time.sleep(max(0.0, workload.first + workload.seconds + GRACE - time.time()))
    if expected_total:  # a burst: wait (bounded) for the stragglers
        deadline = time.time() + LATE_LIMIT
        while target.count() < expected_total and time.time() < deadline:
            time.sleep(0.5)
    cpu = meter.stop()
    cpu_each = {label: round(m.stop(), 2) for label, m in per_process.items()}
    rss = common.peak_rss_mb(sids)
    peer.stop()
    hits = target.dump()
    report = common.fire_report(hits, workload)
    with open(peer.workdir / f"{peer.name}-{workload.name}.hits", "w") as fh:  # for a closer look
        fh.writelines(f"{h.key} {h.scheduled:.3f} {h.arrival:.6f}\n" for h in hits)
    report.update({"workload": workload.name, "cpu_s": round(cpu, 2), "cpu_s_by_session": cpu_each,
                   "peak_rss_mb": rss,
                   "load_s": round(loaded - began, 2), "start_s": round(started - loaded, 2),
                   "first": workload.first})
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer", choices=("apscheduler", "celery-beat", "both"), default="both")
    parser.add_argument("--rate", type=int, default=50, help="every-second jobs of the steady case")
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--burst", type=int, default=1000, help="jobs of the burst case (0: skip)")
    parser.add_argument("--catalogue", type=int, default=0,
                        help="also run a catalogue of this many jobs (1,000 of them every minute), 20 s window")
    parser.add_argument("--processes", type=int, default=1, help="scheduler processes (2: the HA case)")
    parser.add_argument("--steady", type=int, default=1, help="0: skip the steady case")
    parser.add_argument("--mode", choices=("asyncio", "thread"), help="APScheduler variant (default: chosen)")
    parser.add_argument("--pool", help="Celery worker pool (default: chosen)")
    parser.add_argument("--concurrency", type=int, help="Celery worker concurrency (default: chosen)")
    args = parser.parse_args()

    failed = False
    workdir = Path(tempfile.mkdtemp(prefix="djs-peers-smoke-"))
    print(f"logs in {workdir}", flush=True)
    with services.mariadb(durable=True) as db, services.redis() as cache, common.Target() as target:
        peers = []
        if args.peer in ("apscheduler", "both"):
            kw = {"mode": args.mode} if args.mode else {}
            peers.append(lambda: ApschedulerSystem(db.url, cache.url, target.url, workdir, **kw))
        if args.peer in ("celery-beat", "both"):
            kw = {k: v for k, v in (("pool", args.pool), ("concurrency", args.concurrency)) if v}
            peers.append(lambda: CeleryBeatSystem(db.url, cache.url, target.url, workdir, **kw))
        for make in peers:
            peer = make()
            try:
                print(f"== {peer.name} {getattr(peer, 'mode', '')}{getattr(peer, 'pool', '')}", flush=True)
                if args.steady:
                    report = run_case(peer, lambda: common.steady(args.rate, first=int(time.time()) + LEAD,
                                                                  seconds=args.seconds), target,
                                      processes=args.processes)
                    print("  " + json.dumps(report), flush=True)
                    failed |= bool(report["missed"] or report["duplicates"])
                if args.burst:
                    report = run_case(peer, lambda: common.burst(args.burst, first=int(time.time()) + LEAD),
                                      target, expected_total=args.burst, processes=args.processes)
                    print("  " + json.dumps(report), flush=True)
                if args.catalogue:
                    report = run_case(peer, lambda: common.catalogue(args.catalogue, 1000,
                                                                     first=int(time.time()) + CATALOGUE_LEAD,
                                                                     seconds=20), target)
                    print("  " + json.dumps(report), flush=True)
            finally:
                peer.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
