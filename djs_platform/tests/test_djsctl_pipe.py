"""`djsctl ... | head` (issue 18 item 11): when the reader of its output goes away, djsctl stops quietly with
status 141 (128 + SIGPIPE, what a shell reports for a tool SIGPIPE killed) instead of printing a
BrokenPipeError traceback. The installed console script runs as a user runs it; its standard output is a pipe
whose reading end is already closed, so every write fails as it does once `head` has exited. (The same against
a real platform, through a shell pipeline and `head`: tests/test_djsctl_wait.py.)"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DJSCTL = Path(sys.executable).parent / "djsctl"


def run_into_closed_pipe(*args: str, home: Path) -> subprocess.CompletedProcess:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8",
               "XDG_CONFIG_HOME": str(home / "xdg")}
        return subprocess.run([str(DJSCTL), *args], stdout=write_end, stderr=subprocess.PIPE, text=True, env=env,
                              timeout=60)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args", [("--help",), ("tasks", "trigger", "--help"), ("records", "list", "--help")])
def test_output_into_a_closed_pipe_ends_quietly_with_141(tmp_path, args):
    result = run_into_closed_pipe(*args, home=tmp_path)
    assert "BrokenPipeError" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert "Exception ignored" not in result.stderr
    assert (result.returncode, result.stderr) == (141, "")


def test_errors_still_reach_stderr_when_stdout_is_gone(tmp_path):
    result = run_into_closed_pipe("tasks", "list", home=tmp_path)
    assert result.returncode == 1 and result.stderr == "error: not logged in: run `djsctl login`\n"
