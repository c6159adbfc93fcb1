"""What the benchmarks share: servers, a practice with appointments, output."""

import email
import email.policy
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from adapters.cli.main import WS_MAX_MESSAGE_BYTES
from tests.support.mailbox import free_port
from tests.support.practice import JOIN_LINK, PracticeClient, text_of
from tests.support.server import PROJECT_ROOT, RunningServer


class BareServer:
    """benchmarks.bare_app in a subprocess, started like RunningServer."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.output: list[str] = []
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> "BareServer":
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.bare_app",
                "--port",
                str(self.port),
                "--ws-max-size",
                str(WS_MAX_MESSAGE_BYTES),
            ],
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        threading.Thread(target=self._collect_output, daemon=True).start()
        wait_until_healthy(self.base_url, self._process, lambda: "".join(self.output))
        return self

    def _collect_output(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self.output.append(line)

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def stop(self) -> None:
        stop_process(self._process)


def wait_until_healthy(
    base_url: str, process: "subprocess.Popen[str]", log: Callable[[], str]
) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("server exited:\n" + log())
        try:
            if (
                httpx.get(base_url + "/healthz", timeout=1, trust_env=False).status_code
                == 200
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start:\n" + log())


def stop_process(process: "subprocess.Popen[str] | None") -> None:
    if process and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def server_pid(server: RunningServer) -> int:
    process = server._process
    assert process is not None, "server not started"
    return process.pid


def rss_kib(pid: int) -> int:
    """Resident memory of a process, from /proc/<pid>/status (VmRSS, in KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def settled_rss_kib(pid: int, samples: int = 5, pause: float = 0.2) -> int:
    """The median of a few readings, so a passing allocation does not count."""
    readings = []
    for _ in range(samples):
        time.sleep(pause)
        readings.append(rss_kib(pid))
    return int(statistics.median(readings))


# A practice with appointments whose join window is open


def practice_on(server: RunningServer) -> PracticeClient:
    practice = PracticeClient(server)
    practice.set_up()
    return practice


def schedule_join_paths(
    practice: PracticeClient, data_dir: Path, count: int, timeout: float = 60
) -> list[str]:
    """Schedules `count` appointments starting in a few minutes and returns
    the /j/<token> paths from the invitations in the outbox folder."""
    for number in range(count):
        response = practice.schedule(
            patient_name=f"Patientin Nummer {number + 1}",
            patient_email=f"patientin{number + 1}@example.test",
        )
        assert response.status_code == 303, response.text
    outbox = data_dir / "outbox"
    found: dict[Path, str | None] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in sorted(outbox.glob("*.eml")) if outbox.exists() else []:
            if path not in found:
                link = JOIN_LINK.search(text_of(read_mail(path)))
                found[path] = urlsplit(link.group(0)).path if link else None
        paths = sorted({path for path in found.values() if path})
        if len(paths) >= count:
            return paths
        time.sleep(0.1)
    raise RuntimeError(f"fewer than {count} invitations arrived in {outbox}")


def read_mail(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


# Output


def print_table(
    title: str, header: Sequence[str], rows: Sequence[Sequence[str]]
) -> None:
    widths = [
        max(len(str(cell)) for cell in column)
        for column in zip(header, *rows, strict=True)
    ]

    def line(cells: Sequence[str]) -> str:
        first, *rest = cells
        parts = [str(first).ljust(widths[0])]
        parts += [
            str(cell).rjust(width) for cell, width in zip(rest, widths[1:], strict=True)
        ]
        return "  ".join(parts)

    print(f"\n{title}")
    print(line(header))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print(line(row))


def goal_verdict(ratio: float, goal: float) -> str:
    return f"goal ratio >= {goal:.2f}: {'met' if ratio >= goal else 'NOT met'}"


def summary(name: str, figure: str, baseline: str, ratio: str, goal: str) -> None:
    """One machine-readable line that scripts/benchmark.sh gathers at the end."""
    print("\t".join(("SUMMARY", name, figure, baseline, ratio, goal)), flush=True)
