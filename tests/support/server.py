"""The real `sprechzimmer serve` in a subprocess, as an operator starts it."""

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.support.mailbox import free_port
from tests.support.production import fresh_database, production_mode

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class RunningServer:
    def __init__(self, data_dir: Path, smtp_url: str | None = None, **env: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.output: list[str] = []
        self._env = {
            **os.environ,
            "SPRECHZIMMER_DATA_DIR": str(data_dir),
            "SPRECHZIMMER_BASE_URL": self.base_url,
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        if smtp_url:
            self._env["SPRECHZIMMER_SMTP_URL"] = smtp_url
        self._own_database: contextlib.ExitStack | None = None
        if production_mode() and not self._env.get("SPRECHZIMMER_DATABASE_URL"):
            # Started outside a test (a module's fixture): a database of its own.
            self._own_database = contextlib.ExitStack()
            self._env["SPRECHZIMMER_DATABASE_URL"] = self._own_database.enter_context(
                fresh_database()
            )
        self._process: subprocess.Popen[str] | None = None
        # The production-mode suite sends mail through workers: one beside
        # each server, unless the test sets up Redis and workers itself.
        self._worker_beside = (
            production_mode()
            and "SPRECHZIMMER_REDIS_URL" not in env
            and bool(os.environ.get("SPRECHZIMMER_REDIS_URL"))
        )
        self.worker: Any = None

    def tool_environment(self) -> dict[str, str]:
        """What a command-line tool needs to work on this server's data."""
        names = ("SPRECHZIMMER_DATA_DIR", "SPRECHZIMMER_DATABASE_URL")
        return {name: self._env[name] for name in names if self._env.get(name)}

    @property
    def environment(self) -> dict[str, str]:
        """The server's environment, for a worker beside it."""
        return dict(self._env)

    def start(self) -> "RunningServer":
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "adapters.cli.main",
                "serve",
                "--port",
                str(self.port),
            ],
            cwd=PROJECT_ROOT,
            env=self._env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self._collect_output, daemon=True).start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError("server exited:\n" + self.log)
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    self._start_worker_beside()
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("server did not start:\n" + self.log)

    def _start_worker_beside(self) -> None:
        if self._worker_beside and self.worker is None:
            from tests.support.worker import RunningWorker

            self.worker = RunningWorker(self.environment).start()

    def _collect_output(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self.output.append(line)

    @property
    def log(self) -> str:
        served = "".join(self.output)
        if self.worker is None:
            return served
        return served + "\n---- worker beside it ----\n" + self.worker.log

    def setup_link(self) -> str:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = re.search(r"(http://\S+/einrichtung/\S+)", self.log)
            if found:
                return found.group(1)
            time.sleep(0.05)
        raise AssertionError("no setup link printed:\n" + self.log)

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        if self._own_database is not None:
            self._own_database.close()
            self._own_database = None

    def kill_hard(self) -> None:
        """SIGKILL: no clean-up, as when a machine loses power."""
        assert self._process is not None
        self._process.kill()
        self._process.wait()
