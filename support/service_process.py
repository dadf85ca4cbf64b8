"""Running the service as a separate process on loopback (benchmarks, end-to-end tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from support.ports import free_port


def start_process(command: list[str], log: Path, env: dict[str, str] | None = None,
                  cwd: Path | None = None) -> subprocess.Popen:
    """Start `command` with its output in `log` (kept for reading when something fails)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as handle:
        return subprocess.Popen(command, cwd=cwd, env={**os.environ, **(env or {})},
                                stdout=handle, stderr=subprocess.STDOUT)


def start_service(args: list[str], log: Path, env: dict[str, str] | None = None,
                  cwd: Path | None = None) -> tuple[subprocess.Popen, str]:
    """`hybridrag serve ARGS` on a free loopback port; returns (process, base URL)."""
    port = free_port()
    command = [sys.executable, "-m", "hybridrag.cli", "serve", "--host", "127.0.0.1",
               "--port", str(port), *args]
    return start_process(command, log, env, cwd), f"http://127.0.0.1:{port}"


def wait_until_ready(url: str, process: subprocess.Popen, timeout: float = 180.0,
                     headers: dict[str, str] | None = None) -> None:
    """Poll `url` until it answers 200; fail early if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before it was ready")
        try:
            if httpx.get(url, timeout=5, headers=headers).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout:.0f} s")


def readiness_detail(url: str) -> str:
    """What `url`/ready says is missing ("" while the service is ready or not yet listening)."""
    try:
        return httpx.get(f"{url}/ready", timeout=5).json().get("detail", "")
    except httpx.TransportError:
        return ""


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
