"""djsctl's local parts: where credentials live, their file mode, server URLs, rendering. The REST session
itself is tested end to end against gunicorn in tests/test_djsctl.py."""
from __future__ import annotations

import stat

import pytest

from djs_platform.cli import output
from djs_platform.cli.client import CliError, Credentials, Store, config_dir, normalize_server


def test_config_dir_follows_xdg_and_falls_back_to_dot_config(tmp_path, monkeypatch):
    assert config_dir({"XDG_CONFIG_HOME": str(tmp_path / "x")}) == tmp_path / "x" / "djs"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_dir({}) == tmp_path / "home" / ".config" / "djs"


@pytest.mark.parametrize("given, meant", [
    ("127.0.0.1:9088", "http://127.0.0.1:9088/v1"),
    ("http://djs.example.com:9088", "http://djs.example.com:9088/v1"),
    ("https://djs.example.com/v1/", "https://djs.example.com/v1"),
    ("https://gw.example.com/djs/v1", "https://gw.example.com/djs/v1"),
])
def test_server_urls_are_normalised_to_the_api_base(given, meant):
    assert normalize_server(given) == meant


def test_a_non_http_server_url_is_refused():
    with pytest.raises(CliError, match="invalid server URL"):
        normalize_server("ftp://host/v1")


def test_credentials_are_written_0600_even_over_a_readable_file(tmp_path):
    store = Store(tmp_path / "djs")
    store.directory.mkdir()
    store.path.write_text("{}")
    store.path.chmod(0o644)
    store.save(Credentials(server="http://h:1/v1", username="u", token="t", refresh_token="r", expires_at=5.0))
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.load() == Credentials(server="http://h:1/v1", username="u", token="t", refresh_token="r",
                                       expires_at=5.0)
    assert [p.name for p in store.directory.iterdir()] == ["credentials.json"]  # no temporary file left


def test_a_damaged_credentials_file_asks_for_a_new_login(tmp_path):
    store = Store(tmp_path)
    store.path.write_text("not json")
    with pytest.raises(CliError, match="run `djsctl login` again"):
        store.load()
    assert Store(tmp_path / "none").load() is None


def test_tables_align_and_shorten_cells():
    text = output.table(["ID", "NAME", "NEXT"], [[1, "a" * 80, "2026-12-01T03:00:00Z"], [22, None, True]])
    lines = text.splitlines()
    assert lines[0].split() == ["ID", "NAME", "NEXT"]
    assert lines[1].split()[1] == "a" * 59 + "…" and lines[1].endswith("2026-12-01 03:00:00Z")
    assert lines[2].split() == ["22", "-", "yes"]
    assert len({line.index(line.split()[1]) for line in lines}) == 1  # one column start


def test_error_lines_list_every_field():
    text = output.error_lines(4001, "tasks[1].cron: bad", {"fields": {"tasks[1].cron": ["bad"],
                                                                      "tasks[2].url": ["worse"]}})
    assert text.splitlines() == ["error 4001: tasks[1].cron: bad", "  tasks[1].cron: bad", "  tasks[2].url: worse"]
