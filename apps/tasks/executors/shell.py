"""SHELL executor: one local process per call (docs/executors.md, "SHELL tasks").

* argv is ``[command, *args]``, started with ``exec`` semantics: no shell parses it, so arguments are never
  interpolated; shell syntax needs an explicit shell (``command: sh``, ``args: ["-c", "..."]``).
* Identity: the command runs as ``job.shell.runAs`` (or the department's ``job.shell.runAsDepartments``
  entry), never as the node's own user outside the dev profile, with no supplementary groups and umask 077,
  in a fresh 0700 working directory owned by that user and removed after the run (unless the task names
  ``shellWorkdir``, which that user must be able to use); apps/tasks/executors/runas.py.
* Environment: a minimal one (``PATH``, ``LANG``, ``TZ`` of the node, ``HOME`` = the working directory), then the task's own
  variables, then ``DJS_TASK_ID``, ``DJS_RECORD_ID``, ``DJS_SCHEDULED_MS`` (epoch ms), ``DJS_IDEMPOTENCY_KEY`` (and
  ``TRACEPARENT`` when traced). The node's own environment (database URL, secrets) is never passed on.
* Each run is a new session (``start_new_session``): its process group holds the command and everything it
  starts. Timeout, kill and node shutdown signal the whole group: SIGTERM, then SIGKILL after
  ``job.shell.killGrace`` seconds. A run ends when its command exits; processes it left behind in its group
  are killed then, so nothing outlives its record.
* Output: stdout and stderr, in arrival order, go whole to
  ``<job.shell.logDir>/task_<id>_record_<YYYYMM>_<id>.log`` (:mod:`apps.records.runlogs`)
  (every attempt appends, after a header line); the record keeps the first RESPONSE_LIMIT bytes of stdout as
  the response and, on failure, the exit status and the tail of stderr as the error.
* Exit status 0 is success. ``status_code`` is the exit status, or minus the signal number that ended it.
"""
from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path

from apps.records import runlogs
from djs_platform.conf import ShellSettings

from .common import ERROR_LIMIT, RESPONSE_LIMIT, BoundedCapture, CallResult, bound_error, decode_bounded
from .protocol import CallContext, ExecutorSettings
from .runas import RunAs, ShellIdentities, fresh_workdir, remove_workdir, spawn_options, workdir_problem
from .slots import Slots
from .targets import ShellTarget

#: Bytes of stderr kept for the record's error (its tail: the last lines usually say what went wrong).
STDERR_TAIL = 2 * 1024
#: After the command exits, how long its pipes may stay open (a child it left behind) before the group dies.
PIPE_DRAIN = 1.0
CHUNK = 64 * 1024


def log_path(log_dir: Path, task_id: int, record_id: int, scheduled_ms: int) -> Path:
    """The run's log file (apps/records/runlogs.py names it): the record's month table is that of its scheduled
    time, so a record id reused by another month's table never shares the file."""
    year, month = runlogs.record_month(scheduled_ms)
    return runlogs.log_path(log_dir, year=year, month=month, task_id=task_id, record_id=record_id)


def child_environment(task_env: Mapping[str, str] | None, extra: dict[str, str], home: str | None = None) -> dict[str, str]:
    """``HOME`` is the run's working directory (the node's home is not the command's)."""
    env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "LANG": "C.UTF-8"}
    if home:
        env["HOME"] = home
    if os.environ.get("TZ"):
        env["TZ"] = os.environ["TZ"]
    env.update(task_env or {})
    env.update(extra)
    return env


class _Tail:
    """The last ``limit`` bytes of a stream."""

    def __init__(self, limit: int):
        self.limit, self.data, self.dropped = limit, b"", False

    def feed(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > self.limit:
            self.data, self.dropped = self.data[-self.limit:], True


class ShellExecutor:
    """Runs SHELL tasks' commands, at most ``job.shell.workers`` at a time."""

    def __init__(self, config: ShellSettings, identities: ShellIdentities | None = None):
        self.config = config
        self.identities = identities or ShellIdentities()  # who commands run as (runas.py)
        self.slots = Slots(max(1, config.workers))

    @classmethod
    def for_node(cls, settings: ExecutorSettings) -> ShellExecutor:
        return cls(settings.shell, settings.shell_identities)

    async def start(self) -> None:
        self.slots = Slots(max(1, self.config.workers))
        if self.config.enabled:  # the logs are the node's: 0700 (files 0600), closed to the commands' users
            try:
                self.config.log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
                if self.config.log_dir.stat().st_uid == os.geteuid():
                    self.config.log_dir.chmod(0o700)
            except OSError:
                pass

    async def close(self) -> None:
        return None

    async def call(self, target: ShellTarget, ctx: CallContext) -> CallResult:
        """One run of the command. The task's department and its ancestors (``target.departments``, nearest
        first) pick the user it runs as."""
        if not self.config.enabled:
            return CallResult(False, error="SHELL tasks are disabled on this node (job.shell.enabled: false)",
                              permanent=True)
        command, workdir = target.command, target.workdir
        if not command:
            return CallResult(False, error="invalid task: no command", permanent=True)
        run_as = self.identities.for_departments(target.departments)
        if workdir and (problem := workdir_problem(workdir, run_as)):
            return CallResult(False, error=f"working directory: {problem}", permanent=True)
        async with self.slots:
            own_dir = None if workdir else fresh_workdir(run_as, self.config.work_root)
            try:
                return await self._run(ctx.task_id, ctx.record_id, command, target.args, workdir or own_dir,
                                       target.env, ctx.timeout, ctx.attempt, _djs_environment(ctx), run_as)
            finally:
                if own_dir:
                    remove_workdir(own_dir)

    async def _run(self, task_id: int, record_id: int, command: str, args: tuple[str, ...], workdir: str | None,
                   env: Mapping[str, str] | None, timeout: float, attempt: int, extra_env: dict[str, str],
                   run_as: RunAs | None = None) -> CallResult:
        path = log_path(self.config.log_dir, task_id, record_id, int(extra_env["DJS_SCHEDULED_MS"]))
        # The node writes the log from the command's pipes; the command never gets the file, and its user
        # cannot read it (0600 in a 0700 directory, owned by the node).
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as log:  # noqa: ASYNC230
            os.chmod(path, 0o600)
            log.write(f"=== attempt {attempt} at {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}: "
                      f"{command} {' '.join(args)}\n".encode())
            log.flush()
            try:
                proc = await asyncio.create_subprocess_exec(
                    command, *args, cwd=workdir or None, env=child_environment(env, extra_env, workdir),
                    stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE, start_new_session=True, **spawn_options(run_as))
            except (FileNotFoundError, PermissionError, NotADirectoryError, OSError) as exc:
                message = f"cannot start {command}: {exc.strerror or exc}"
                log.write(f"=== {message}\n".encode())
                return CallResult(False, error=message, permanent=isinstance(exc, (FileNotFoundError,
                                                                                     PermissionError)))
            stdout = BoundedCapture(RESPONSE_LIMIT)
            stderr = _Tail(STDERR_TAIL)

            async def pump(stream: asyncio.StreamReader, keep) -> None:
                while chunk := await stream.read(CHUNK):
                    log.write(chunk)
                    log.flush()  # a running command's output is readable in its log (GET /records/{id}/log)
                    keep(chunk)

            def keep_out(chunk: bytes) -> None:
                if not stdout.truncated:
                    stdout.feed(chunk)

            pumps = [asyncio.ensure_future(pump(proc.stdout, keep_out)),  # type: ignore[arg-type]
                     asyncio.ensure_future(pump(proc.stderr, stderr.feed))]  # type: ignore[arg-type]
            timed_out = False
            try:
                try:
                    await asyncio.wait_for(proc.wait(), timeout)
                except TimeoutError:
                    timed_out = True
                    await _terminate(proc, self.config.kill_grace)
                # The command is gone; its pipes close unless something it started still holds them.
                _, pending = await asyncio.wait(pumps, timeout=PIPE_DRAIN)
                _kill_group(proc.pid, signal.SIGKILL)
                if pending:
                    await asyncio.wait(pending, timeout=PIPE_DRAIN)
            except asyncio.CancelledError:  # killed (API kill, node shutdown): the whole group goes
                await asyncio.shield(_terminate(proc, self.config.kill_grace))
                log.write(b"\n=== killed\n")
                raise
            finally:
                for task in pumps:
                    task.cancel()
            code = proc.returncode
            log.write(f"\n=== exit status {code}{' (timed out)' if timed_out else ''}\n".encode())

        response = decode_bounded(stdout.value(), "utf-8")
        tail = decode_bounded(stderr.data, "utf-8").strip()
        if timed_out:
            return CallResult(False, status_code=code, response=response, response_truncated=stdout.truncated,
                              error=bound_error(f"timed out after {timeout:g}s: process group terminated"
                                                + (f"; stderr: {tail}" if tail else ""), ERROR_LIMIT))
        if code == 0:
            return CallResult(True, status_code=0, response=response, response_truncated=stdout.truncated)
        what = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        return CallResult(False, status_code=code, response=response, response_truncated=stdout.truncated,
                          error=bound_error(what + (f"; stderr: {'…' if stderr.dropped else ''}{tail}" if tail
                                                    else ""), ERROR_LIMIT))


def _djs_environment(ctx: CallContext) -> dict[str, str]:
    """What DJS tells the command about its run (set after the task's own variables: no task forges it)."""
    extra = {"DJS_TASK_ID": str(ctx.task_id), "DJS_RECORD_ID": str(ctx.record_id),
             "DJS_IDEMPOTENCY_KEY": ctx.idempotency_key,
             "DJS_SCHEDULED_MS": ctx.idempotency_key.rsplit("-", 1)[-1]}
    if ctx.recovery:
        extra["DJS_RECOVERY"] = "1"
    if ctx.traceparent:
        extra["TRACEPARENT"] = ctx.traceparent
    return extra


def _kill_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


async def _terminate(proc: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM to the group; SIGKILL to whatever of it is left after ``grace`` seconds; reaps the command."""
    deadline = time.monotonic() + grace
    _kill_group(proc.pid, signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), grace)
    except TimeoutError:
        pass
    while time.monotonic() < deadline and _kill_group(proc.pid, 0):  # children still shutting down
        await asyncio.sleep(0.05)
    _kill_group(proc.pid, signal.SIGKILL)
    if proc.returncode is None:
        await proc.wait()
