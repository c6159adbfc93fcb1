"""A real TURN server, coturn from Debian's packages, on loopback only.

It is started the way a practice's operator would run it for Sprechzimmer, with
`use-auth-secret` and a shared secret, but with nothing read from a
configuration file and nothing listening or relaying anywhere but 127.0.0.1.
"""

import secrets
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path

from tests.support.required import missing_part

REALM = "sprechzimmer.test"
STUN_MAGIC_COOKIE = 0x2112A442
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101


def turnserver_path() -> str:
    found = shutil.which("turnserver")
    if found is None:
        missing_part("coturn's turnserver (apt-get install coturn)")
        raise AssertionError("unreachable")
    return found


def free_udp_and_tcp_port() -> int:
    """A loopback port that is free for both UDP and TCP right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket() as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise AssertionError("no free loopback port for the TURN server")


class TurnServer:
    def __init__(self, work_dir: Path, secret: str | None = None) -> None:
        self.work_dir = work_dir
        self.secret = secret or secrets.token_urlsafe(24)
        self.port = free_udp_and_tcp_port()
        self.log_file = work_dir / "turnserver.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    @property
    def log(self) -> str:
        return self.log_file.read_text() if self.log_file.exists() else ""

    def start(self) -> "TurnServer":
        executable = turnserver_path()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                executable,
                "-n",  # No configuration file: only what is given here.
                "--listening-ip=127.0.0.1",
                f"--listening-port={self.port}",
                "--relay-ip=127.0.0.1",
                "--allow-loopback-peers",
                "--no-multicast-peers",
                "--no-tcp",
                "--no-tls",
                "--no-dtls",
                "--no-tcp-relay",
                "--no-rfc5780",
                "--no-cli",
                "--use-auth-secret",
                f"--static-auth-secret={self.secret}",
                f"--realm={REALM}",
                "--fingerprint",
                "--verbose",
                f"--log-file={self.log_file}",
                "--simple-log",
                "--no-stdout-log",
                f"--pidfile={self.work_dir / 'turnserver.pid'}",
                f"--userdb={self.work_dir / 'turndb'}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError("turnserver exited:\n" + self.log)
            if self._answers_binding_request():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("turnserver did not answer in time:\n" + self.log)

    def _answers_binding_request(self) -> bool:
        transaction_id = secrets.token_bytes(12)
        request = struct.pack("!HHI", BINDING_REQUEST, 0, STUN_MAGIC_COOKIE)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.settimeout(0.3)
            probe.sendto(request + transaction_id, self.address)
            try:
                answer = probe.recv(2048)
            except OSError:
                return False
        return (
            len(answer) >= 20
            and struct.unpack("!H", answer[:2])[0] == BINDING_SUCCESS
            and answer[8:20] == transaction_id
        )

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
