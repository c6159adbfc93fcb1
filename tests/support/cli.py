"""Running the `sprechzimmer` command as an operator or auditor would."""

import os
import subprocess
import sys
from pathlib import Path

from tests.support.server import PROJECT_ROOT


def sprechzimmer(
    data_dir: Path, *arguments: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli.main", *arguments],
        cwd=PROJECT_ROOT,
        env={**os.environ, "SPRECHZIMMER_DATA_DIR": str(data_dir), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )
