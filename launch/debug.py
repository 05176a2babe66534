"""``distgrad-run --debug``: one process in the foreground (no MPI launcher), so pdb works."""

from __future__ import annotations

import os
import sys


def build_debug_command(script: str, args: list, python: str = sys.executable,
                        env: dict | None = None) -> tuple[list, dict]:
    """Return (argv, env) for a debug run: ``python script args`` with ``DISTGRAD_DEBUG=1``
    (distgrad turns on anomaly detection and distributed debug checks from it)."""
    new_env = dict(os.environ if env is None else env)
    new_env["DISTGRAD_DEBUG"] = "1"
    return [python, script, *args], new_env


def exec_debug(argv: list, env: dict):
    """Replace this process with the debug run; the terminal (stdin/stdout) is inherited."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(argv[0], argv, env)
