"""Shared by the kill-and-resume tests: start a training command and SIGKILL it once a checkpoint exists."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest


def sigkill_when_written(cmd: list[str], target: Path, *, env: dict[str, str], cwd: Path, what: str = "training",
                         timeout_s: float = 300.0, poll_s: float = 0.02) -> None:
    """Run ``cmd``, SIGKILL it as soon as ``target`` exists, and check it died by that signal.

    Args:
        cmd: the command line.
        target: the file whose appearance triggers the kill (e.g. a checkpoint's ``state.pt``).
        env: its environment.
        cwd: its working directory.
        what: what the command is, for the failure messages.
        timeout_s: fail if ``target`` has not appeared by then.
        poll_s: polling interval.
    """
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout_s
    try:
        while not target.exists():
            if proc.poll() is not None:
                pytest.fail(f"{what} exited early ({proc.returncode}): {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no checkpoint within {timeout_s:.0f} s")
            time.sleep(poll_s)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
