"""Configuration: ``configs/config.yaml`` (the defaults, always loaded), the file ``DJS_CONFIG`` names merged over
it, then ``DJS_*`` environment variables.

Every key ``section.someKey`` can be overridden by ``DJS_SECTION_SOME_KEY``; a few short aliases
(``DJS_DATABASE_URL``, ``DJS_JWT_SECRET`` ...) exist because operators type them most. Values from the
environment are parsed as YAML scalars so ``DJS_SERVER_PORT=9100`` is an int and ``DJS_DEBUG=false`` a bool.

A key of the overlay file that config.yaml does not have, and a ``DJS_*`` variable that names no key, are listed
in :attr:`Config.warnings`; every DJS process logs them at start (``djs_platform.apps``): a typo must not silently
do nothing (issue 18).
"""
from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = BASE_DIR / "configs" / "config.yaml"

ALIASES: dict[str, str] = {
    "DJS_DATABASE_URL": "database.url",
    "DJS_REDIS_URL": "redis.url",
    "DJS_JWT_SECRET": "auth.jwtSecret",
    "DJS_ADMIN_PASSWORD": "auth.adminPassword",
    "DJS_DEBUG": "server.debug",
    "DJS_TIMEZONE": "server.timezone",
}

#: ``DJS_*`` variables that are not configuration keys, so never warned about: set by a DJS process for its
#: children (``DJS_SHUTDOWN_PID``, ``DJS_METRICS_DIR_OWNED``), switches read by one module (``DJS_EVENT_LOOP``:
#: the scheduler's loop; ``DJS_HTTP_TRANSPORT``: refused by the HTTP executor when it names a removed transport),
#: docker compose's ``.env`` secrets, the console dev server's API target, and what a SHELL command gets (a DJS
#: command it runs inherits them).
NON_KEY_VARIABLES = frozenset({
    "DJS_CONFIG", "DJS_SHUTDOWN_PID", "DJS_METRICS_DIR_OWNED", "DJS_EVENT_LOOP", "DJS_HTTP_TRANSPORT",
    "DJS_DB_PASSWORD", "DJS_DB_ROOT_PASSWORD", "DJS_API_TARGET", "DJS_WEB_UI_DIST",
    "DJS_TASK_ID", "DJS_RECORD_ID", "DJS_IDEMPOTENCY_KEY", "DJS_SCHEDULED_MS", "DJS_RECOVERY",
})
#: Prefixes of the test suite's and the benchmarks' own switches (``DJS_TEST_WORKERS``, ``DJS_BENCH_COMMIT`` ...).
NON_KEY_PREFIXES = ("DJS_TEST_", "DJS_BENCH_")
#: Keys of the original DistributedJob configuration that DJS dropped: the warning says what to use instead.
RETIRED_KEYS: dict[str, str] = {
    "job.workers": "executions run on one asyncio loop per scheduler node; their concurrency is job.httpWorkers, "
                   "job.grpcWorkers and job.shell.workers",
    "database.maxIdle": "DJS keeps at most one connection per thread and no idle pool; database.connMaxAge bounds "
                        "how long one is reused, database.maxConn how many a process may open",
}
#: Threads of one scheduler node that hold a database connection: the node's control, heartbeat ("beats"),
#: starts and records threads (``apps.tasks.scheduler.node``) and its alert watcher (``apps.alerts.watcher``).
SCHEDULER_DB_THREADS = 5

# Placeholder secrets that must never run with DEBUG off.
DEFAULT_JWT_SECRETS = {"", "your-secret-key", "change-me", "secret"}
DEFAULT_ADMIN_PASSWORDS = {"", "admin123", "admin", "password"}


def env_name(dotted: str) -> str:
    """``job.httpWorkers`` -> ``DJS_JOB_HTTP_WORKERS``."""
    parts = [re.sub(r"(?<!^)(?=[A-Z])", "_", p).upper() for p in dotted.split(".")]
    return "DJS_" + "_".join(parts)


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:  # an empty map stays one key (a DJS_* variable can set it)
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _parse_env_value(raw: str, current: Any) -> Any:
    if isinstance(current, str) or current is None and not raw.strip():
        return raw
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """``overlay`` over ``base``, section by section (lists and scalars are replaced, not merged). A section is
    never replaced by a value: an empty one in the overlay (``job:`` with every key commented out) changes
    nothing, a scalar in its place is ignored (and warned about)."""
    merged = dict(base)
    for key, value in overlay.items():
        current = merged.get(key)
        if isinstance(current, dict) and current:
            if isinstance(value, dict):
                merged[key] = _merge(current, value)
            continue
        merged[key] = value
    return merged


def _overlay_keys(tree: dict[str, Any], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            keys += _overlay_keys(value, dotted + ".")
        else:
            keys.append(dotted)
    return keys


def _suggestion(name: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


def _unknown_overlay_keys(overlay: dict[str, Any], defaults: dict[str, Any], source: Path) -> list[str]:
    """Warnings for keys of the overlay file that the defaults do not have. Below a key whose default is an
    empty map (``job.shell.runAsDepartments``) any key is the operator's own."""
    free_maps = {k for k, v in defaults.items() if isinstance(v, dict)}
    sections = {k.rsplit(".", 1)[0] for k in defaults if "." in k}
    warnings = []
    for key in _overlay_keys(overlay):
        if key in defaults or any(key.startswith(m + ".") for m in free_maps):
            continue
        if key in sections:
            if _overlay_value(overlay, key) not in (None, {}):  # an empty section is fine
                warnings.append(f"{source}: {key} is a section of keys, not a value: ignored")
            continue
        if key in RETIRED_KEYS:
            warnings.append(f"{source}: {key} is no longer used and has no effect: {RETIRED_KEYS[key]}")
        else:
            warnings.append(f"{source}: unknown configuration key {key}, ignored"
                            f"{_suggestion(key, list(defaults))}")
    return warnings


def _overlay_value(tree: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        tree = tree.get(part) if isinstance(tree, dict) else None
    return tree


def _unknown_variables(environ: dict[str, str], known: dict[str, str]) -> list[str]:
    retired = {env_name(key): key for key in RETIRED_KEYS}
    warnings = []
    for name in sorted(environ):
        if not name.startswith("DJS_") or name in known or name in ALIASES or name in NON_KEY_VARIABLES \
                or name.startswith(NON_KEY_PREFIXES):
            continue
        if name in retired:
            warnings.append(f"environment variable {name} ({retired[name]}) is no longer used and has no effect: "
                            f"{RETIRED_KEYS[retired[name]]}")
        else:
            warnings.append(f"environment variable {name} matches no configuration key, ignored"
                            f"{_suggestion(name, [*known, *ALIASES])}")
    return warnings


class MissingKey(ImproperlyConfigured):
    """A configuration key the code reads is not in the configuration (or has the wrong shape)."""


class Config:
    """Flat, read-only view of the merged configuration.

    ``source`` is the defaults file, ``overlay`` the file ``DJS_CONFIG`` named (or None); ``warnings`` names
    overlay keys and ``DJS_*`` variables that configure nothing."""

    def __init__(self, values: dict[str, Any], source: Path, overlay: Path | None = None,
                 warnings: list[str] | None = None):
        self._values = values
        self.source = source
        self.overlay = overlay
        self.warnings: list[str] = list(warnings or [])

    @property
    def files(self) -> list[Path]:
        return [self.source] + ([self.overlay] if self.overlay else [])

    def __getitem__(self, key: str) -> Any:
        """The value of ``key``; a key the defaults file lacks is an error naming it (defaults live only in
        configs/config.yaml, never in the code that reads them)."""
        try:
            return self._values[key]
        except KeyError:
            raise MissingKey(f"configuration key {key} is missing: every key DJS reads has its default in "
                             f"{self.source}") from None

    def keys(self) -> list[str]:
        return list(self._values)

    def mapping(self, key: str) -> dict[str, Any]:
        """A key whose value is a map of the operator's own keys (``job.shell.runAsDepartments``): set whole
        (a ``DJS_*`` variable) or entry by entry (a file's entries are flattened to ``key.entry``)."""
        prefix = key + "."
        below = {k[len(prefix):]: v for k, v in self._values.items() if k.startswith(prefix)}
        if key not in self._values and not below:
            self[key]  # raises MissingKey
        value = self._values.get(key)
        if value and not isinstance(value, dict):
            raise MissingKey(f"{key} must be a map, not {value!r}")
        return dict(value or below)


def _read_yaml(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        tree = yaml.safe_load(fh) or {}
    if not isinstance(tree, dict):
        raise TypeError(f"{path}: a configuration file is a YAML mapping of sections, not {type(tree).__name__}")
    return tree


def load_config(path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None,
                defaults: str | os.PathLike[str] | None = None) -> Config:
    """``defaults`` (configs/config.yaml), the overlay ``path`` (default: ``DJS_CONFIG``) merged over it, then the
    environment."""
    environ = dict(os.environ if environ is None else environ)
    source = Path(defaults or DEFAULT_CONFIG_FILE)
    overlay_name = path or environ.get("DJS_CONFIG")
    overlay = Path(overlay_name) if overlay_name else None
    if overlay is not None and overlay.resolve() == source.resolve():
        overlay = None
    warnings: list[str] = []
    try:
        tree = _read_yaml(source)
    except PermissionError as exc:
        # configs/ is private to its owner (startup.private_state): a process of another user (an unprivileged
        # scheduler node) cannot read the defaults and runs on its own complete copy, named by DJS_CONFIG.
        if overlay is None:
            raise
        tree = {}
        warnings.append(f"cannot read the defaults file {source} ({exc.strerror}): using {overlay} alone, "
                        "which must then hold every key this process needs")
    default_values = _flatten(tree)
    if overlay is not None:
        overlay_tree = _read_yaml(overlay)
        if default_values:
            warnings += _unknown_overlay_keys(overlay_tree, default_values, overlay)
        tree = _merge(tree, overlay_tree)
    values = _flatten(tree)
    by_env = {env_name(k): k for k in (default_values or values)}
    for name, raw in environ.items():
        key = ALIASES.get(name) or by_env.get(name)
        if key is not None:
            values[key] = _parse_env_value(raw, values.get(key))
    warnings += _unknown_variables(environ, by_env)
    return Config(values, source, overlay, warnings)


config = load_config()


def install_secret(path: Path, make: Callable[[], str]) -> str:
    """A per-install secret kept in ``path`` (under ``var/``, mode 0600), made by ``make`` on first use.

    Written to a private temporary file and linked into place, so processes starting at once agree on one
    secret and nobody reads a half-written file (the dev JWT secret, the shutdown secret)."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, make().encode())
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process was first: its secret stands
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
