"""A PostgreSQL server of the test's own, for tests that restart the database.

The machine's shared server is never stopped; a test that needs a restart
makes a throwaway cluster with Debian's binaries (run as the postgres user,
since PostgreSQL refuses to run as root), on a free loopback port.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.mailbox import free_port
from tests.support.required import missing_part

BIN_FOLDERS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


class OwnPostgres:
    def __init__(self) -> None:
        if not BIN_FOLDERS or not (BIN_FOLDERS[0] / "initdb").exists():
            missing_part("PostgreSQL server binaries (Debian's postgresql package)")
        self._bin = BIN_FOLDERS[0]
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="sprechzimmer-pg-"))
        self._as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        subprocess.run(
            [*self._as_owner, str(self._bin / command[0]), *command[1:]],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def create(self) -> "OwnPostgres":
        self._run(
            "initdb", "-D", str(self.folder / "data"), "-A", "trust", "-U", "postgres"
        )
        return self.start()

    def start(self) -> "OwnPostgres":
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.folder / "data"),
            "-o",
            options,
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "start",
        )
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        """Stops the server, ending every connection, and starts it again."""
        self.stop()
        self.start()

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
