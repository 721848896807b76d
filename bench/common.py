"""Shared pieces of the benchmark harness: the recording target, workloads, fire reports, /proc accounting.

The contract every system under test (DJS, APScheduler, Celery beat) follows:

* a :class:`Job` is ``key`` + schedule; its fire calls ``GET {target}/t/{key}`` with the scheduled
  instant as ``X-Scheduled-Ms`` (epoch milliseconds) — DJS sends it inside its ``Idempotency-Key``;
* every process a system starts is a session leader (``start_new_session=True``) so CPU and RSS can be
  summed over the whole process group from /proc, children included.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- workloads -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    """One job. ``every`` seconds (1 = every second, 60 = every minute at second ``offset``), or a daily job
    (``daily_hour`` set) that must not fire during the run."""

    key: str
    every: int = 1
    offset: int = 0                 # second within the minute for every=60
    daily_hour: int | None = None   # UTC hour of a once-a-day job (catalogue filler)

    @property
    def cron(self) -> str:
        """The same schedule as a 6-field cron (sec min hour dom mon dow)."""
        if self.daily_hour is not None:
            return f"0 0 {self.daily_hour} * * *"
        if self.every == 1:
            return "* * * * * *"
        if self.every == 60:
            return f"{self.offset} * * * * *"
        raise ValueError(f"unsupported period {self.every}")


@dataclass
class Workload:
    name: str
    jobs: list[Job]
    first: float                    # epoch of the first expected fire (a whole second)
    seconds: int                    # length of the measured window from ``first``
    expected: set[tuple[str, int]] = field(default_factory=set)  # (key, scheduled epoch s) that must fire


def steady(count: int, first: float, seconds: int) -> Workload:
    jobs = [Job(str(i)) for i in range(count)]
    expected = {(j.key, s) for j in jobs for s in range(int(first), int(first) + seconds)}
    return Workload(f"steady-{count}", jobs, first, seconds, expected)


def burst(count: int, first: float) -> Workload:
    """``count`` jobs all due in the same second (every minute at second ``first % 60``), one fire each."""
    offset = int(first) % 60
    jobs = [Job(str(i), every=60, offset=offset) for i in range(count)]
    return Workload(f"burst-{count}", jobs, first, 1, {(j.key, int(first)) for j in jobs})


def catalogue(total: int, per_minute: int, first: float, seconds: int) -> Workload:
    """``total`` jobs: ``per_minute`` fire every minute (seconds spread over the minute), the rest once a
    day at an hour 12 h away (never due during the run)."""
    idle_hour = (time.gmtime(first).tm_hour + 12) % 24
    jobs = [Job(f"m{i}", every=60, offset=i % 60) for i in range(per_minute)]
    jobs += [Job(f"d{i}", daily_hour=idle_hour) for i in range(total - per_minute)]
    expected = {(j.key, s) for j in jobs[:per_minute] for s in range(int(first), int(first) + seconds)
                if s % 60 == j.offset}
    return Workload(f"catalogue-{total}", jobs, first, seconds, expected)


# --- the target -------------------------------------------------------------------------------------

@dataclass
class Hit:
    key: str
    scheduled: float    # epoch s
    arrival: float      # epoch s


class Target:
    """bench/target.py as a child process."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.port = 0

    def __enter__(self) -> "Target":
        self.proc = subprocess.Popen([sys.executable, str(BENCH / "target.py"), "--port", "0"],
                                     stdout=subprocess.PIPE, text=True, start_new_session=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("listening "):
            raise RuntimeError(f"target did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def __exit__(self, *exc) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def job_url(self, key: str) -> str:
        return f"{self.url}/t/{key}"

    def count(self) -> int:
        return int(httpx.get(self.url + "/__count", timeout=30).text)

    def dump(self) -> list[Hit]:
        """Every request received since the last dump (and forget them)."""
        hits: list[Hit] = []
        for line in httpx.get(self.url + "/__dump", timeout=60).text.splitlines():
            path, scheduled, arrival = line.split(" ")
            hits.append(Hit(path.rsplit("/", 1)[1], int(scheduled) / 1000, float(arrival)))
        return hits


def fire_report(hits: list[Hit], workload: Workload) -> dict:
    """Lag (arrival - scheduled), duplicates and misses of the fires scheduled inside the window."""
    start, end = int(workload.first), int(workload.first) + workload.seconds
    in_window = [h for h in hits if start <= round(h.scheduled) < end]
    seen = Counter((h.key, round(h.scheduled)) for h in in_window)
    lags = sorted(max(0.0, h.arrival - h.scheduled) for h in in_window)

    def pct(p: float) -> float | None:
        return round(lags[min(len(lags) - 1, int(len(lags) * p))] * 1000, 1) if lags else None

    return {"expected": len(workload.expected), "executed": len(in_window),
            "duplicates": sum(n - 1 for n in seen.values() if n > 1),
            "missed": len(workload.expected - set(seen)),
            "unexpected": len(set(seen) - workload.expected),
            "executions_per_s": round(len(in_window) / max(1, workload.seconds), 1),
            "lag_p50_ms": pct(0.50), "lag_p95_ms": pct(0.95), "lag_p99_ms": pct(0.99),
            "lag_max_ms": round(lags[-1] * 1000, 1) if lags else None}


# --- /proc accounting --------------------------------------------------------------------------------

def session_processes(sids: list[int]) -> list[int]:
    """Every live process whose session id is one of ``sids`` (a system's process groups)."""
    wanted = set(sids)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) in wanted:  # field 6 (session) is index 3 after the ")"
            found.append(int(entry))
    return found


def cpu_seconds(sids: list[int]) -> float:
    """utime + stime of every process in the sessions (children that exited and were waited for included)."""
    total = 0
    for pid in session_processes(sids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return total / CLK_TCK


def peak_rss_mb(sids: list[int]) -> float:
    """Sum over the sessions' processes of each one's peak resident set (VmHWM)."""
    total = 0
    for pid in session_processes(sids):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


class CpuMeter:
    """CPU-seconds of process sessions over a window: ``start()`` then ``stop()``."""

    def __init__(self, sids: list[int]):
        self.sids = sids
        self.begin = 0.0
        self.used = 0.0

    def start(self) -> None:
        self.begin = cpu_seconds(self.sids)

    def stop(self) -> float:
        self.used = max(0.0, cpu_seconds(self.sids) - self.begin)
        return self.used
