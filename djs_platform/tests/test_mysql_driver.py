"""Which installs get the MySQL driver (scripts/mysql_driver.py), and what a MySQL URL without it says.

`make check-fresh` proves the whole path on a fresh clone; these are the fast checks of the decision."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from djs_platform.config import BASE_DIR

sys.path.insert(0, str(BASE_DIR / "scripts"))
import mysql_driver  # noqa: E402  (stdlib-only script beside run_tests.py)


@pytest.mark.parametrize("url, expected", [
    ("", False), ("sqlite:///var/djs.sqlite3", False), ("mysql://u:p@db:3306/djs", True),
    ("mariadb://u@db/djs", True), ("MySQL://u@db/djs", True), ("db.internal:3306", True),
])
def test_which_database_urls_name_mysql(url, expected):
    assert mysql_driver.names_mysql(url) is expected


@pytest.mark.parametrize("url, importable, build_deps, action", [
    ("", True, False, "none"),                      # already installed: nothing to do
    ("", False, True, "install"),                   # can be built: always installed
    ("sqlite:///x.db", False, True, "install"),
    ("mysql://u@db/djs", False, True, "install"),
    ("mysql://u@db/djs", False, False, "try"),      # needed: attempted, one clear line if the build fails
    ("", False, False, "skip"),                     # bare machine, embedded profile: skipped
    ("sqlite:///x.db", False, False, "skip"),
])
def test_the_driver_is_installed_where_it_can_be_built_or_is_needed(url, importable, build_deps, action):
    assert mysql_driver.decide(url, driver_importable=importable, build_deps=build_deps).action == action


def _fake_pkg_config(directory: Path, known: str) -> None:
    script = directory / "pkg-config"
    script.write_text(f'#!/bin/sh\n[ "$1" = --exists ] && [ "$2" = "{known}" ] && exit 0\nexit 1\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_build_dependencies_are_pkg_config_and_a_client_library_it_knows(tmp_path):
    assert mysql_driver.build_deps_present(path=str(tmp_path)) is False  # no pkg-config on PATH
    _fake_pkg_config(tmp_path, "nothing-useful")
    assert mysql_driver.build_deps_present(path=str(tmp_path)) is False  # pkg-config, but no client library
    _fake_pkg_config(tmp_path, "libmariadb")
    assert mysql_driver.build_deps_present(path=str(tmp_path)) is True


def test_a_mysql_url_without_the_driver_fails_with_one_clear_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJS_")}
    env.update(DJS_DATABASE_URL="mysql://djs:secret@127.0.0.1:1/djs", DJS_DEBUG="true")
    code = ("import runpy, sys; sys.modules['MySQLdb'] = None; sys.argv = ['manage.py', 'migrate']; "
            f"runpy.run_path({str(BASE_DIR / 'manage.py')!r}, run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=BASE_DIR, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: database.url names MySQL/MariaDB but its driver (mysqlclient) is not installed")
    assert "default-libmysqlclient-dev pkg-config build-essential" in lines[0]
    assert "secret" not in result.stderr
