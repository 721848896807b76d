#!/usr/bin/env python3
"""The one test orchestrator: real MariaDB + Redis, two pytest passes, strict summary.

Why two passes: the platform supports two deployment profiles and both must
stay green.

* ``sqlite``  - the embedded profile (no DJS_DATABASE_URL / DJS_REDIS_URL: SQLite
  and the database cache). ``DJS_TEST_MARIADB_URL`` / ``DJS_TEST_REDIS_URL`` are
  still exported so tests that need a real server anyway (cross-process token
  revocation, locking) always run instead of being skipped.
* ``mariadb`` - the production profile (DJS_DATABASE_URL=mysql://...,
  DJS_REDIS_URL=redis://...).

Each pass runs in two phases: the in-process tests in parallel (pytest-xdist, ``DJS_TEST_WORKERS``, 4 by
default; each worker has its own test database and Redis database, see ``tests/worker_env.py``), then the
tests marked ``processes`` (real gunicorn, scheduler nodes, Chromium) on ``DJS_TEST_PROCESS_WORKERS`` workers
(2 by default: they mostly wait, on timeouts and drains; a file stays on one worker). Platform-level suites are
marked ``single_backend`` and leave the SQLite pass at collection (``conftest.py``). The 15 slowest tests and
the pytest wall time of each pass are printed at the end.

Why strict: in this project a skipped test is a defect (it usually means a
service was missing and the test silently did nothing), so any skip fails the
run, as does a pass that collected no tests.

Usage::

    .venv/bin/python scripts/run_tests.py                 # both passes
    .venv/bin/python scripts/run_tests.py --only mariadb -x -k revocation
    DJS_TEST_WORKERS=0 .venv/bin/python scripts/run_tests.py   # in-process phase serially
    DJS_TEST_PROCESS_WORKERS=1 .venv/bin/python scripts/run_tests.py   # process-level phase serially

Unknown arguments are passed to pytest unchanged (``--`` also works). Stdlib
only; the servers come from ``scripts/services.py`` and are always stopped,
also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCRIPTS_DIR.parent
sys.path.insert(0, str(SCRIPTS_DIR))
sys.dont_write_bytecode = True  # no scripts/__pycache__ in the work tree

import services  # noqa: E402  (sibling module, stdlib only)

PASSES: tuple[str, ...] = ("sqlite", "mariadb")
RESULTS_DIR = REPO_ROOT / "var" / "test-results"
VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"

#: Variables this script owns; any value inherited from the caller's shell is
#: dropped so a developer's local settings cannot change what the tests see.
#: (Other DJS_TEST_* switches are passed through on purpose.)
_OWNED_PREFIX = "DJS_"
_PASSTHROUGH_PREFIX = "DJS_TEST_"
_OWNED_TEST_VARS = {"DJS_TEST_MARIADB_URL", "DJS_TEST_REDIS_URL", "DJS_TEST_WORKERS", "DJS_TEST_PROCESS_WORKERS"}
#: Passed through as well: which console build the e2e tests serve (a second build beside web-ui/dist).
_PASSTHROUGH = {"DJS_WEB_UI_DIST"}


@dataclass
class PassResult:
    """Outcome of one pytest pass, from its exit code and JUnit XML."""

    name: str
    returncode: int | None = None
    wall: float = 0.0
    tests: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    phase_walls: dict[str, float] = field(default_factory=dict)
    durations: list[tuple[float, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def log(message: str) -> None:
    print(f"[run_tests] {message}", flush=True)


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    """SIGTERM (e.g. a CI timeout) takes the same cleanup path as Ctrl-C."""
    raise KeyboardInterrupt


# --------------------------------------------------------------------------- environment


def base_env() -> dict[str, str]:
    """Environment shared by both passes.

    Starts from the caller's environment (PATH, HOME, CI, ...) minus every
    DJS_* variable except extra DJS_TEST_* switches; then sets a fresh random
    JWT secret and admin password per run, so no test can depend on a known
    secret.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_OWNED_PREFIX) or k in _PASSTHROUGH
        or (k.startswith(_PASSTHROUGH_PREFIX) and k not in _OWNED_TEST_VARS)
    }
    env.update(
        DJS_DEBUG="false",
        DJS_JWT_SECRET=secrets.token_hex(24),  # 48 hex chars
        DJS_ADMIN_PASSWORD=secrets.token_urlsafe(18),
        PYTHONDONTWRITEBYTECODE="1",
    )
    # CI (and PATH, HOME, TMPDIR, ...) are inherited unchanged: tests may use
    # CI=true to choose e.g. headless browsers or longer timeouts.
    return env


def pass_env(name: str, common: dict[str, str], db_url: str, redis_url: str) -> dict[str, str]:
    """Per-pass environment; see the module docstring for what each pass means."""
    env = dict(common)
    env["DJS_TEST_MARIADB_URL"] = db_url
    env["DJS_TEST_REDIS_URL"] = redis_url
    if name == "mariadb":
        env["DJS_DATABASE_URL"] = db_url
        env["DJS_REDIS_URL"] = redis_url
    return env


#: Workers for the in-process phase. The in-process tests mostly wait (on scheduler ticks, on targets,
#: on the database), so more workers than cores pays; each has its own test database and Redis database.
DEFAULT_WORKERS = "4"


#: Workers of the process-level phase (DJS_TEST_PROCESS_WORKERS): its tests spend most of their time waiting
#: (node timeouts, drains, SIGSTOP windows, a browser), so two files run at once on two cores; a test file
#: stays on one worker (module fixtures such as test_processes' gunicorn pair, the e2e platform per worker).
DEFAULT_PROCESS_WORKERS = "2"


def worker_args(variable: str = "DJS_TEST_WORKERS", default: str = DEFAULT_WORKERS) -> list[str]:
    """``-n N`` for a phase (``variable``, default ``default``; 0 or 1 = serial), one test file per worker."""
    raw = os.environ.get(variable, "").strip() or default
    if raw in {"0", "1"}:
        return []
    if raw != "auto" and not raw.isdigit():
        raise SystemExit(f"{variable} must be a number or 'auto', got {raw!r}")
    return ["-p", "xdist", "-n", raw, "--dist", "loadfile"]


@dataclass(frozen=True)
class Phase:
    """One pytest run inside a pass: the in-process tests, then the process-level ones (each on its workers)."""

    name: str
    marker: str | None
    workers: tuple[str, str] | None  # (environment variable, default) of its -n, or None: serial
    longest_first: bool = False  # hand out the longest files first (tests/process_order.py)


PHASES = (Phase("in-process", "not processes", ("DJS_TEST_WORKERS", DEFAULT_WORKERS)),
          Phase("processes", "processes", ("DJS_TEST_PROCESS_WORKERS", DEFAULT_PROCESS_WORKERS), longest_first=True))
ONE_PHASE = (Phase("all", None, None),)


def phases_for(extra: Sequence[str]) -> tuple[Phase, ...]:
    """A caller's own ``-m`` or ``-n`` takes over: then one serial run with exactly what was asked."""
    if any(arg in {"-m", "-n"} or arg.startswith(("-m=", "-n=", "--numprocesses")) for arg in extra):
        return ONE_PHASE
    return PHASES


# --------------------------------------------------------------------------- running


def run_pytest(name: str, env: dict[str, str], extra: Sequence[str]) -> PassResult:
    """Run one pass (its phases, in the repo root) and evaluate it."""
    result = PassResult(name)
    start = time.monotonic()
    try:
        for phase in phases_for(extra):
            run_phase(result, phase, env, extra)
    finally:
        result.wall = time.monotonic() - start
    if result.tests == 0:
        result.problems.append("collected 0 tests")
    return result


def run_phase(result: PassResult, phase: Phase, env: dict[str, str], extra: Sequence[str]) -> None:
    # A report of this run only (two runners at once must not read or delete each other's reports); kept
    # under the phase's plain name once evaluated.
    junit = RESULTS_DIR / f"{result.name}-{phase.name}.{os.getpid()}.xml"
    junit.unlink(missing_ok=True)  # never evaluate a stale report
    workers = worker_args(*phase.workers) if phase.workers else []
    # The process-level files take 5-120 s each: longest first, so no long file starts last on one worker while the
    # other idles (xdist's own reordering, by number of tests, would undo that order).
    order = ["-p", "tests.process_order", *(["--no-loadscope-reorder"] if workers else [])] if phase.longest_first else []
    cmd = [
        str(VENV_PYTHON),
        "-m",
        "pytest",
        f"--junitxml={junit}",
        "-o",
        f"junit_suite_name={result.name}-{phase.name}",
        *(["-m", phase.marker] if phase.marker else []),
        *workers,
        *order,
        *extra,
    ]
    log(f"pass {result.name}, {phase.name}: {' '.join(cmd[1:])}")
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env)
    try:
        returncode = proc.wait()
    except KeyboardInterrupt:
        # The terminal already sent SIGINT to pytest (same process group); for
        # SIGTERM it did not. Give pytest a moment to finish its teardown.
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    wall = time.monotonic() - start
    result.phase_walls[phase.name] = wall
    if returncode == 5 and phase.marker:
        junit.unlink(missing_ok=True)
        return  # this phase selected nothing (e.g. -k matched only the other phase's tests)
    result.returncode = returncode if result.returncode in (0, None) else result.returncode
    evaluate(result, junit, returncode)
    if junit.exists():
        junit.replace(RESULTS_DIR / f"{result.name}-{phase.name}.xml")


def evaluate(result: PassResult, junit: Path, returncode: int) -> None:
    """Add counts from the JUnit XML and list every reason the pass is not OK.

    Counts come from the individual <testcase> elements (a case with both a
    failure and a teardown error counts once, as failed). xfail/xpass are
    reported by pytest as <skipped>, and count as skipped: they hide defects too.
    """
    if not junit.exists():
        result.problems.append(f"no JUnit report at {junit} (pytest exit code {returncode})")
        return
    try:
        root = ET.parse(junit).getroot()
    except ET.ParseError as exc:
        result.problems.append(f"unreadable JUnit report {junit}: {exc}")
        return
    failed = errors = skipped = 0
    for case in root.iter("testcase"):
        result.tests += 1
        result.durations.append((float(case.get("time") or 0), f"{case.get('classname')}::{case.get('name')}"))
        if case.find("failure") is not None:
            failed += 1
        elif case.find("error") is not None:
            errors += 1
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            result.passed += 1
    result.failed += failed
    result.errors += errors
    result.skipped += skipped
    if returncode != 0:
        result.problems.append(f"pytest exit code {returncode} ({junit.stem})")
    if failed or errors:
        result.problems.append(f"{failed} failed, {errors} errors ({junit.stem})")
    if skipped:
        result.problems.append(f"{skipped} skipped (skips are defects here; deselect by marker instead)")


def print_slowest(results: Sequence[PassResult], count: int = 15) -> None:
    for r in results:
        if not r.durations:
            continue
        print(f"\n{count} slowest tests, {r.name} pass (seconds; each phase ran on several workers):")
        for seconds, test in sorted(r.durations, reverse=True)[:count]:
            print(f"  {seconds:8.1f}  {test}")


def print_summary(results: Sequence[PassResult], total_wall: float) -> None:
    """Table per pass, then one closing line that CI tools can read."""
    header = f"{'pass':<9}{'tests':>7}{'passed':>8}{'failed':>8}{'errors':>8}{'skipped':>9}{'wall s':>9}  result"
    print()
    print("=" * len(header))
    print(header)
    print("-" * len(header))
    for r in results:
        status = "ok" if r.ok else "FAIL: " + "; ".join(r.problems)
        print(f"{r.name:<9}{r.tests:>7}{r.passed:>8}{r.failed:>8}{r.errors:>8}{r.skipped:>9}{r.wall:>9.1f}  {status}")
    print("-" * len(header))
    for r in results:
        phases = ", ".join(f"{name} {wall:.1f} s" for name, wall in r.phase_walls.items())
        print(f"{r.name} pytest wall time: {r.wall:.1f} s ({phases})")
    print(f"tests wall time, both passes: {sum(r.wall for r in results):.1f} s")
    print(f"total wall time: {total_wall:.1f} s")
    print("=" * len(header))
    passed = sum(r.passed for r in results)
    failed = sum(r.failed + r.errors for r in results)
    skipped = sum(r.skipped for r in results)
    # The plain "N passed, N failed, N skipped" line is what CI reads last.
    print(f"summary: {passed} passed, {failed} failed, {skipped} skipped", flush=True)


@contextlib.contextmanager
def started_services() -> Iterator[tuple[services.MariaDBServer, services.RedisServer]]:
    """Both throwaway servers; always stopped and deleted on the way out."""
    t0 = time.monotonic()
    with services.mariadb() as db, services.redis() as cache:
        log(f"services up in {time.monotonic() - t0:.1f}s: {db.url}  {cache.url}")
        try:
            yield db, cache
        finally:
            log("stopping services")


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        description="Run the test suite in the sqlite and mariadb passes against throwaway servers.",
        epilog="Other arguments are passed to pytest, e.g. -x -k name, or after '--'.",
    )
    parser.add_argument("--only", choices=PASSES, help="run only this pass")
    args, extra = parser.parse_known_args(argv)
    if extra and extra[0] == "--":
        extra = extra[1:]
    return args, extra


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = parse_args(sys.argv[1:] if argv is None else argv)
    if not VENV_PYTHON.exists():
        print(f"error: {VENV_PYTHON} not found; run `make .venv/.installed` (or `make test`)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    passes = [args.only] if args.only else list(PASSES)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    common = base_env()
    results: list[PassResult] = []
    t0 = time.monotonic()
    try:
        with started_services() as (db, cache):
            for index, name in enumerate(passes):
                if index:
                    cache.flushall()  # no cache state leaks from one pass into the next
                results.append(run_pytest(name, pass_env(name, common, db.url, cache.url), extra))
    except KeyboardInterrupt:
        print_summary(results, time.monotonic() - t0)
        log("interrupted")
        return 130
    except services.ServiceError as exc:
        log(f"could not start test services: {exc.args[0].splitlines()[0]}")
        return 1
    print_slowest(results)
    print_summary(results, time.monotonic() - t0)
    return 0 if results and all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
