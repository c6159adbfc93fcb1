"""The tech check's throughput endpoints, as a patient's browser and as a
tinkerer use them: real bytes either way, and for anything odd, oversized,
cut off or too much a clear refusal in German, never a 500."""

import socket
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest

from adapters.web.tech_check import MAX_PARALLEL_TRANSFERS, MAX_TRANSFER_BYTES
from tests.support.server import RunningServer

DOWNLOAD = "/technikcheck/download"
UPLOAD = "/technikcheck/upload"


@contextmanager
def client_from(
    server: RunningServer, address: str = "127.0.0.1"
) -> Iterator[httpx.Client]:
    """A browser on another loopback address counts as another client."""
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(
        base_url=server.base_url, transport=transport, timeout=20, trust_env=False
    ) as client:
        yield client


def german_error(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/json"
    message = response.json()["error"]
    assert isinstance(message, str) and message.endswith("."), message
    return message


def raw_exchange(server: RunningServer, request: bytes, then_close: bool) -> bytes:
    """Sends bytes as they are and returns the server's whole answer;
    `then_close` stops sending there, as a dropped connection does."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw:
        raw.sendall(request)
        if then_close:
            raw.shutdown(socket.SHUT_WR)
        answer = b""
        while not _complete(answer):
            try:
                chunk = raw.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
        return answer


def _complete(answer: bytes) -> bool:
    head, separator, body = answer.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def assert_still_healthy(server: RunningServer) -> None:
    assert httpx.get(server.base_url + "/healthz", trust_env=False).status_code == 200
    assert " 500 " not in server.log
    assert "Traceback" not in server.log


def test_a_download_is_exactly_as_large_as_asked_fresh_and_incompressible(
    server: RunningServer,
) -> None:
    with client_from(server) as browser:
        first = browser.get(DOWNLOAD, params={"bytes": "1000000"})
        second = browser.get(DOWNLOAD, params={"bytes": "1000000"})

    assert first.status_code == 200
    assert len(first.content) == 1_000_000
    assert first.headers["content-length"] == "1000000"
    assert first.headers["content-type"] == "application/octet-stream"
    assert "no-store" in first.headers["cache-control"]
    assert first.content != second.content
    assert len(zlib.compress(first.content, 9)) > 0.99 * len(first.content)


def test_an_upload_is_counted_and_confirmed(server: RunningServer) -> None:
    body = bytes(range(256)) * 12_000  # about 3 MB, well over the 64 KiB of forms
    with client_from(server) as browser:
        response = browser.post(
            UPLOAD, content=body, headers={"Origin": server.base_url}
        )

    assert response.status_code == 200, response.text
    assert response.json()["received"] == len(body)
    assert response.json()["seconds"] >= 0


@pytest.mark.parametrize(
    ("size", "status"),
    [
        (None, 400),
        ("", 400),
        ("abc", 400),
        ("-1", 400),
        ("0", 400),
        ("1e6", 400),
        ("1.5", 400),
        ("²", 400),
        ("9" * 13, 400),
        (str(MAX_TRANSFER_BYTES + 1), 413),
        ("999999999999", 413),
    ],
)
def test_a_download_of_no_sensible_size_is_refused(
    server: RunningServer, size: str | None, status: int
) -> None:
    params = {} if size is None else {"bytes": size}
    with client_from(server) as browser:
        response = browser.get(DOWNLOAD, params=params)

    assert response.status_code == status
    assert "Bytes" in german_error(response) or "Zahl" in german_error(response)
    assert_still_healthy(server)


def test_a_download_started_by_another_sites_page_is_refused(
    server: RunningServer,
) -> None:
    with client_from(server) as browser:
        response = browser.get(
            DOWNLOAD,
            params={"bytes": "1000"},
            headers={"Sec-Fetch-Site": "cross-site"},
        )

    assert response.status_code == 403
    assert "Technikcheck" in german_error(response)


@pytest.mark.parametrize("origin", [None, "https://evil.example", "null"])
def test_an_upload_from_another_site_is_refused(
    server: RunningServer, origin: str | None
) -> None:
    headers = {} if origin is None else {"Origin": origin}
    with client_from(server) as browser:
        response = browser.post(UPLOAD, content=b"x" * 1000, headers=headers)

    assert response.status_code == 403
    assert "Technikcheck" in german_error(response)


def test_an_oversized_upload_is_refused_before_its_body_is_sent(
    server: RunningServer,
) -> None:
    headers = (
        f"POST {UPLOAD} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Origin: {server.base_url}\r\nContent-Length: {MAX_TRANSFER_BYTES + 1}\r\n"
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()

    answer = raw_exchange(server, headers, then_close=False)

    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert "Höchstens".encode() in answer
    assert_still_healthy(server)


def test_an_upload_without_a_length_or_with_a_garbage_length_is_refused(
    server: RunningServer,
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"x" * 1000

    with client_from(server) as browser:
        chunked = browser.post(
            UPLOAD, content=chunks(), headers={"Origin": server.base_url}
        )
    garbage = raw_exchange(
        server,
        (
            f"POST {UPLOAD} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            f"Origin: {server.base_url}\r\nContent-Length: 12abc\r\n\r\n"
        ).encode(),
        then_close=True,
    )

    assert chunked.status_code == 411
    assert "Länge" in german_error(chunked)
    assert garbage.startswith(b"HTTP/1.1 400"), garbage[:200]
    assert_still_healthy(server)


def test_an_upload_cut_off_halfway_leaves_the_server_unharmed(
    server: RunningServer,
) -> None:
    request = (
        f"POST {UPLOAD} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Origin: {server.base_url}\r\nContent-Length: 100000\r\n\r\n"
    ).encode() + b"x" * 1000

    answer = raw_exchange(server, request, then_close=True)

    assert not answer.startswith(b"HTTP/1.1 5"), answer[:200]
    assert_still_healthy(server)


def test_one_client_moving_too_much_data_is_asked_to_wait(
    server: RunningServer,
) -> None:
    sizes = {"bytes": str(MAX_TRANSFER_BYTES)}
    with client_from(server, "127.0.0.7") as greedy:
        granted = []
        for _ in range(4):
            with greedy.stream("GET", DOWNLOAD, params=sizes) as response:
                granted.append(response.status_code)  # The bytes do not matter.
        refusal = greedy.get(DOWNLOAD, params=sizes)
    with client_from(server, "127.0.0.8") as neighbour:
        other = neighbour.get(DOWNLOAD, params={"bytes": "1000"})

    assert granted == [200, 200, 200, 200]
    assert refusal.status_code == 429
    assert "warten" in german_error(refusal)
    assert int(refusal.headers["retry-after"]) > 0
    assert other.status_code == 200


def test_a_server_full_of_transfers_says_it_is_busy(server: RunningServer) -> None:
    with ExitStack() as running:
        # Large downloads nobody reads hold their place on the server.
        for number in range(MAX_PARALLEL_TRANSFERS):
            client = running.enter_context(
                client_from(server, f"127.0.1.{number // 4 + 1}")
            )
            response = running.enter_context(
                client.stream(
                    "GET", DOWNLOAD, params={"bytes": str(MAX_TRANSFER_BYTES)}
                )
            )
            assert response.status_code == 200
        with client_from(server, "127.0.2.1") as latecomer:
            busy = latecomer.get(DOWNLOAD, params={"bytes": "1000"})

    assert busy.status_code == 503
    assert "ausgelastet" in german_error(busy)
    assert int(busy.headers["retry-after"]) > 0
    assert_still_healthy(server)
