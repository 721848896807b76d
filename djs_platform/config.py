"""Configuration: ``configs/config.yaml`` overlaid with ``DJS_*`` environment variables.

Every key ``section.someKey`` can be overridden by ``DJS_SECTION_SOME_KEY``; a few short aliases
(``DJS_DATABASE_URL``, ``DJS_JWT_SECRET`` ...) exist because operators type them most. Values from the
environment are parsed as YAML scalars so ``DJS_SERVER_PORT=9100`` is an int and ``DJS_DEBUG=false`` a bool.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

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


class Config:
    """Flat, read-only view of the merged configuration."""

    def __init__(self, values: dict[str, Any], source: Path):
        self._values = values
        self.source = source

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def section(self, name: str) -> dict[str, Any]:
        prefix = name + "."
        return {k[len(prefix):]: v for k, v in self._values.items() if k.startswith(prefix)}

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)


def load_config(path: str | os.PathLike[str] | None = None, environ: dict[str, str] | None = None) -> Config:
    environ = dict(os.environ if environ is None else environ)
    source = Path(path or environ.get("DJS_CONFIG") or DEFAULT_CONFIG_FILE)
    with open(source, encoding="utf-8") as fh:
        tree = yaml.safe_load(fh) or {}
    values = _flatten(tree)
    by_env = {env_name(k): k for k in values}
    for name, raw in environ.items():
        key = ALIASES.get(name) or by_env.get(name)
        if key is not None:
            values[key] = _parse_env_value(raw, values.get(key))
    return Config(values, source)


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
