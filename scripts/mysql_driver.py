#!/usr/bin/env python3
"""Install the MySQL/MariaDB driver (mysqlclient) only where it can be built or is needed.

Why: mysqlclient has no Linux wheel; pip builds it from source, which needs the client headers and
pkg-config (Debian: default-libmysqlclient-dev pkg-config build-essential). On a bare machine without
them, `make run` must still start the embedded SQLite profile, and a MySQL URL without the driver must
fail with one line that says what to install, not a compiler traceback.

The rule (``decide``):

* driver already importable                      -> nothing to do;
* build dependencies present                      -> install it (pinned in requirements-mysql.txt);
* no build dependencies, database URL names MySQL -> try anyway; on failure one clear line, exit 1;
* no build dependencies, SQLite / no URL          -> skip; the embedded profile needs no driver.

Usage (what `make run` does, with the venv's Python): ``python scripts/mysql_driver.py``.
Stdlib only; the database URL is read from the environment (``DJS_DATABASE_URL``) and, when the
project's config loader is importable, from the merged configuration (``database.url``).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = REPO_ROOT / "requirements-mysql.txt"
#: What a Debian machine needs to build mysqlclient (also what `make run` installs when run as root).
DEBIAN_PACKAGES = "default-libmysqlclient-dev pkg-config build-essential"
#: pkg-config names mysqlclient's setup.py looks for, in its order.
PKG_CONFIG_NAMES = ("mysqlclient", "mariadb", "libmariadb", "perconaserverclient")

INSTALL_HINT = (f"install the Debian packages {DEBIAN_PACKAGES} "
                f"(as root: apt-get install -y {DEBIAN_PACKAGES}, or run `make run` as root), then run `make run` again")


@dataclass(frozen=True)
class Decision:
    action: str  # "none" | "install" | "try" | "skip"
    reason: str


def names_mysql(database_url: str) -> bool:
    """True for mysql:// / mariadb:// URLs and the original bare ``host:port`` form (which means MySQL)."""
    url = database_url.strip()
    if not url:
        return False
    if "://" not in url:
        return True
    return url.split("://", 1)[0].lower() in {"mysql", "mariadb"}


def decide(database_url: str, *, driver_importable: bool, build_deps: bool) -> Decision:
    if driver_importable:
        return Decision("none", "mysqlclient is already installed")
    if build_deps:
        return Decision("install", "its build dependencies (pkg-config, client headers) are present")
    if names_mysql(database_url):
        return Decision("try", "the database URL names MySQL/MariaDB")
    return Decision("skip", "no MySQL build dependencies and the embedded SQLite profile needs no driver")


def build_deps_present(path: str | None = None) -> bool:
    """pkg-config on PATH and one of the client libraries known to it (what mysqlclient's build needs)."""
    pkg_config = shutil.which("pkg-config", path=path)
    if pkg_config is None:
        return False
    for name in PKG_CONFIG_NAMES:
        if subprocess.run([pkg_config, "--exists", name], capture_output=True).returncode == 0:
            return True
    return False


def configured_database_url() -> str:
    url = os.environ.get("DJS_DATABASE_URL")
    if url is not None:
        return url
    try:
        sys.path.insert(0, str(REPO_ROOT))
        from djs_platform.config import (
            load_config,  # needs PyYAML, installed before this script runs
        )
    except ImportError:
        return ""
    return str(load_config()["database.url"] or "")


def pip_install() -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           "-r", str(REQUIREMENTS)], capture_output=True, text=True)


def main() -> int:
    url = configured_database_url()
    decision = decide(url, driver_importable=importlib.util.find_spec("MySQLdb") is not None,
                      build_deps=build_deps_present())
    if decision.action == "none":
        return 0
    if decision.action == "skip":
        print(f"mysql-driver: not installing mysqlclient: {decision.reason} (for MySQL/MariaDB, {INSTALL_HINT})")
        return 0
    print(f"mysql-driver: installing mysqlclient: {decision.reason}")
    result = pip_install()
    if result.returncode == 0:
        return 0
    if decision.action == "try":
        print(f"error: the database URL names MySQL/MariaDB but the driver mysqlclient cannot be built here: "
              f"{INSTALL_HINT}", file=sys.stderr)
    else:
        print(f"error: pip could not install mysqlclient:\n{result.stdout}{result.stderr}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
