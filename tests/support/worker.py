"""The real `sprechzimmer worker` in a subprocess, beside a running server."""

import subprocess
import sys
import threading
import time

from tests.support.server import PROJECT_ROOT, RunningServer

READY_LINE = "Taking jobs from queue"


class RunningWorker:
    def __init__(self, environment: dict[str, str]) -> None:
        self.output: list[str] = []
        self._env = environment
        self._process: subprocess.Popen[str] | None = None

    @classmethod
    def beside(cls, server: RunningServer) -> "RunningWorker":
        return cls(server.environment)

    def start(self, wait_until_ready: bool = True) -> "RunningWorker":
        self._process = subprocess.Popen(
            [sys.executable, "-m", "adapters.cli.main", "worker"],
            cwd=PROJECT_ROOT,
            env=self._env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self._collect_output, daemon=True).start()
        if wait_until_ready:
            self.wait_for_line(READY_LINE)
        return self

    def wait_for_line(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log:
            assert self._process is not None
            if self._process.poll() is not None:
                raise RuntimeError("worker exited:\n" + self.log)
            if time.monotonic() > deadline:
                raise AssertionError(f"worker never logged {text!r}:\n{self.log}")
            time.sleep(0.05)

    def _collect_output(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self.output.append(line)

    @property
    def log(self) -> str:
        return "".join(self.output)

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def kill_hard(self) -> None:
        """SIGKILL: no clean-up, as when a machine loses power."""
        assert self._process is not None
        self._process.kill()
        self._process.wait()
