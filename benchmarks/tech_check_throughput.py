"""Bytes per second through the tech check's throughput endpoints on
loopback, against a plain socket copy in the same run.

The real `sprechzimmer serve` runs in a subprocess. Four client threads in
this process download (GET /technikcheck/download, 25 MB a request) and then
upload (POST /technikcheck/upload, 25 MB a request) for a few seconds each,
over raw sockets so that the client costs little. The baseline is a plain
socket server in a subprocess of its own that sends the same number of bytes
from memory, or receives and drops them, to the same four client threads.

Each request comes from a loopback address of its own: one address may move
only 120 MB before the product asks it to wait, and the benchmark measures
transfer, not that limit.

    .venv/bin/python -m benchmarks.tech_check_throughput [--seconds 4]
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from adapters.web.tech_check import MAX_TRANSFER_BYTES
from benchmarks.common import print_table, stop_process, summary
from tests.support.mailbox import free_port
from tests.support.server import PROJECT_ROOT, RunningServer

STREAMS = 4
BUFFER_BYTES = 1024 * 1024
PAYLOAD = os.urandom(MAX_TRANSFER_BYTES)
_addresses = (
    f"127.0.{third}.{fourth}" for third in range(10, 250) for fourth in range(1, 255)
)
_address_lock = threading.Lock()


def next_address() -> str:
    with _address_lock:
        return next(_addresses)


# One request each; every function returns the bytes it moved.


def read_answer(connection: socket.socket) -> int:
    """Reads until the server closes; returns how many bytes came."""
    buffer = bytearray(BUFFER_BYTES)
    total = 0
    while received := connection.recv_into(buffer):
        total += received
    return total


def product_download(port: int) -> int:
    with socket.create_connection(
        ("127.0.0.1", port), source_address=(next_address(), 0)
    ) as connection:
        connection.sendall(
            f"GET /technikcheck/download?bytes={MAX_TRANSFER_BYTES} HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
        )
        received = read_answer(connection)
    assert received > MAX_TRANSFER_BYTES, f"refused ({received} bytes)"
    return MAX_TRANSFER_BYTES


def product_upload(port: int) -> int:
    with socket.create_connection(
        ("127.0.0.1", port), source_address=(next_address(), 0)
    ) as connection:
        connection.sendall(
            f"POST /technikcheck/upload HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Origin: http://127.0.0.1:{port}\r\nConnection: close\r\n"
            f"Content-Length: {MAX_TRANSFER_BYTES}\r\n\r\n".encode()
        )
        connection.sendall(PAYLOAD)
        answer = connection.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    return MAX_TRANSFER_BYTES


def plain_download(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(b"send")
        return read_answer(connection)


def plain_upload(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(b"take")
        connection.sendall(PAYLOAD)
        connection.shutdown(socket.SHUT_WR)
        connection.recv(16)
    return MAX_TRANSFER_BYTES


def bytes_per_second(request: Callable[[int], int], port: int, seconds: float) -> float:
    """Runs requests on STREAMS threads until time is up, then waits for the
    requests under way; every byte counts, and so does the time they took."""
    deadline = time.monotonic() + seconds
    moved = [0] * STREAMS

    def stream(index: int) -> None:
        while time.monotonic() < deadline:
            moved[index] += request(port)

    started = time.monotonic()
    threads = [threading.Thread(target=stream, args=(i,)) for i in range(STREAMS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(moved) / (time.monotonic() - started)


# The baseline: a plain socket server, run as `--plain-server PORT`.


def serve_plain(port: int) -> None:
    listener = socket.create_server(("127.0.0.1", port))
    listener.listen(64)
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=_copy, args=(connection,), daemon=True).start()


def _copy(connection: socket.socket) -> None:
    with connection:
        if connection.recv(4) == b"send":
            connection.sendall(PAYLOAD)
        else:
            read_answer(connection)
            connection.sendall(b"ok")


class PlainServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                sys.executable,
                *("-m", "benchmarks.tech_check_throughput"),
                *("--plain-server", str(self.port)),
            ],
            cwd=PROJECT_ROOT,
            text=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the plain socket server did not start")

    def stop(self) -> None:
        stop_process(self.process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--plain-server", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.plain_server:
        serve_plain(arguments.plain_server)
        return

    with tempfile.TemporaryDirectory() as data:
        server = RunningServer(Path(data))
        baseline = PlainServer()
        try:
            server.start()
            figures = {
                "download": (
                    bytes_per_second(product_download, server.port, arguments.seconds),
                    bytes_per_second(plain_download, baseline.port, arguments.seconds),
                ),
                "upload": (
                    bytes_per_second(product_upload, server.port, arguments.seconds),
                    bytes_per_second(plain_upload, baseline.port, arguments.seconds),
                ),
            }
        finally:
            server.stop()
            baseline.stop()

    rows = [
        [
            direction,
            f"{product / 1e6:.0f}",
            f"{plain / 1e6:.0f}",
            f"{product * 8 / 1e6:.0f}",
            f"{product / plain:.2f}",
        ]
        for direction, (product, plain) in figures.items()
    ]
    print_table(
        f"Tech check throughput on loopback, {STREAMS} streams "
        f"(MB/s; product against a plain socket copy)",
        ["direction", "product MB/s", "plain MB/s", "product Mbit/s", "ratio"],
        rows,
    )
    for direction, (product, plain) in figures.items():
        summary(
            f"tech check {direction} MB/s",
            f"{product / 1e6:.0f}",
            f"{plain / 1e6:.0f}",
            f"{product / plain:.2f}",
            "printed only",
        )


if __name__ == "__main__":
    main()
