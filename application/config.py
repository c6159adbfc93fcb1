"""Settings from environment variables with the SPRECHZIMMER_ prefix."""

import base64
import binascii
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

PREFIX = "SPRECHZIMMER_"

# turn:host[:port][?transport=udp|tcp] (RFC 7065); IPv6 hosts in brackets.
TURN_URL = re.compile(
    r"turns?:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?(\?transport=(udp|tcp))?"
)
MIN_TURN_SECRET_LENGTH = 16
ICE_TRANSPORT_POLICIES = ("all", "relay")


class ConfigurationError(Exception):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    base_url: str
    smtp_url: str | None
    mail_from: str
    secret_key: bytes
    ice_servers: list[dict[str, Any]]
    cookie_secure: bool
    master_key: bytes = b""
    # True when no master key was configured or found and one was made now.
    master_key_generated: bool = False
    audit_signing_key: bytes = b""
    audit_checkpoint_seconds: float = 60.0
    retention_interval_seconds: float = 600.0
    forwarded_allow_ips: str | None = None
    access_log: bool = True
    imprint_text: str = ""
    tech_check_calls: int = 2
    tech_check_call_seconds: float = 30.0
    tech_check_loopback_only: bool = False
    # From this many members in a group call on, media goes through the SFU.
    sfu_threshold: int = 5
    sfu_workers: int = 1
    sfu_loopback_only: bool = False
    turn_urls: tuple[str, ...] = ()
    turn_secret: str = field(default="", repr=False)
    turn_credential_seconds: int = 3600
    ice_transport_policy: str = "all"
    # Production mode: PostgreSQL for the event store and keys, Redis for jobs
    # (Redis alone: workers beside the web process, sharing the data folder).
    database_url: str | None = field(default=None, repr=False)
    database_pool_size: int = 2
    redis_url: str | None = field(default=None, repr=False)
    job_queue: str = "sprechzimmer:jobs"
    job_timeout_seconds: int = 60
    # Names this web process among several (its live connections carry it).
    node_name: str = ""

    @property
    def production(self) -> bool:
        """Whether the event store is PostgreSQL rather than the embedded SQLite."""
        return self.database_url is not None

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def key_store_path(self) -> Path:
        return self.data_dir / "keys.sqlite"

    @property
    def audit_dir(self) -> Path:
        return self.data_dir / "audit"


def load_settings(
    environ: dict[str, str] | None = None,
    default_base_url: str = "http://127.0.0.1:8000",
) -> Settings:
    env = dict(os.environ if environ is None else environ)

    def get(name: str, default: str = "") -> str:
        return env.get(PREFIX + name, default).strip()

    data_dir = Path(get("DATA_DIR", "data")).expanduser().resolve()
    base_url = get("BASE_URL", default_base_url).rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise ConfigurationError(
            "SPRECHZIMMER_BASE_URL must start with http:// or https://"
        )
    smtp_url = get("SMTP_URL")
    if smtp_url and (
        urlsplit(smtp_url).scheme not in ("smtp", "smtps")
        or not urlsplit(smtp_url).hostname
    ):
        raise ConfigurationError(
            "SPRECHZIMMER_SMTP_URL must look like smtp://host:587?starttls=true "
            "or smtps://user:password@host:465"
        )
    master_key_generated = (
        not get("MASTER_KEY") and not (data_dir / "master.key").exists()
    )
    return Settings(
        data_dir=data_dir,
        base_url=base_url,
        smtp_url=smtp_url or None,
        mail_from=get("MAIL_FROM", "videosprechstunde@localhost"),
        secret_key=_secret_key(get("SECRET_KEY"), data_dir),
        ice_servers=_ice_servers(get("ICE_SERVERS", "[]")),
        cookie_secure=_flag(get("COOKIE_SECURE"), default=base_url.startswith("https")),
        master_key=_master_key(get("MASTER_KEY"), data_dir),
        master_key_generated=master_key_generated,
        audit_signing_key=_generated_or_configured(
            "AUDIT_SIGNING_KEY",
            get("AUDIT_SIGNING_KEY"),
            data_dir / "audit-signing.key",
        ),
        audit_checkpoint_seconds=_seconds(get("AUDIT_CHECKPOINT_SECONDS"), 60),
        retention_interval_seconds=_seconds(get("RETENTION_INTERVAL_SECONDS"), 600),
        forwarded_allow_ips=get("FORWARDED_ALLOW_IPS") or None,
        access_log=_flag(get("ACCESS_LOG"), default=True),
        imprint_text=_imprint(get("IMPRINT_FILE")),
        # A test call costs the server about 3 % of a core (see
        # benchmarks/tech_check_loopback.py); the consultations come first.
        tech_check_calls=_whole_number(
            "TECH_CHECK_CALLS", get("TECH_CHECK_CALLS"), 2 * (os.cpu_count() or 1)
        ),
        tech_check_call_seconds=_whole_number(
            "TECH_CHECK_CALL_SECONDS", get("TECH_CHECK_CALL_SECONDS"), 30
        ),
        # Test calls on loopback addresses only: for tests on one machine.
        tech_check_loopback_only=_flag(get("TECH_CHECK_LOOPBACK_ONLY"), default=False),
        # Above 9 (the most a call holds) every group call stays a mesh.
        sfu_threshold=_whole_number("SFU_THRESHOLD", get("SFU_THRESHOLD"), 5),
        sfu_workers=_whole_number("SFU_WORKERS", get("SFU_WORKERS"), 1),
        # SFU candidates on loopback addresses only: for tests on one machine.
        sfu_loopback_only=_flag(get("SFU_LOOPBACK_ONLY"), default=False),
        **_turn_settings(get),
        **_production_settings(get),
    )


def _production_settings(get: Callable[[str], str]) -> dict[str, Any]:
    database_url = get("DATABASE_URL")
    if database_url and urlsplit(database_url).scheme not in (
        "postgresql",
        "postgres",
    ):
        raise ConfigurationError(
            "SPRECHZIMMER_DATABASE_URL must look like "
            "postgresql://user:password@host:5432/sprechzimmer"
        )
    if database_url and not _has_valid_port(database_url):
        raise ConfigurationError(
            "SPRECHZIMMER_DATABASE_URL has a port that is not a number from 1 to 65535"
        )
    redis_url = get("REDIS_URL")
    if redis_url and (
        not _has_valid_port(redis_url)
        or not re.fullmatch(r"/?[0-9]*", urlsplit(redis_url).path)
    ):
        raise ConfigurationError(
            "SPRECHZIMMER_REDIS_URL must look like redis://host:6379/0 (a port "
            "number, and a database number after the slash)"
        )
    if redis_url and urlsplit(redis_url).scheme not in ("redis", "rediss"):
        raise ConfigurationError(
            "SPRECHZIMMER_REDIS_URL must look like redis://host:6379/0"
        )
    # Without SPRECHZIMMER_DATABASE_URL, workers and web processes share the
    # SQLite event store in one data folder: all of them on one machine.
    queue = get("JOB_QUEUE") or "sprechzimmer:jobs"
    if not re.fullmatch(r"[A-Za-z0-9:_.-]{1,100}", queue):
        raise ConfigurationError(
            "SPRECHZIMMER_JOB_QUEUE may hold letters, digits and : _ . - only"
        )
    node_name = get("NODE_NAME")
    if node_name and not re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", node_name):
        raise ConfigurationError(
            "SPRECHZIMMER_NODE_NAME may hold up to 64 letters, digits and . _ : -"
        )
    return {
        "node_name": node_name,
        "database_url": database_url or None,
        "database_pool_size": _whole_number(
            "DATABASE_POOL_SIZE", get("DATABASE_POOL_SIZE"), 2
        ),
        "redis_url": redis_url or None,
        "job_queue": queue,
        "job_timeout_seconds": _whole_number(
            "JOB_TIMEOUT_SECONDS", get("JOB_TIMEOUT_SECONDS"), 60
        ),
    }


def _secret_key(configured: str, data_dir: Path) -> bytes:
    if configured:
        if len(configured) < 32:
            raise ConfigurationError(
                "SPRECHZIMMER_SECRET_KEY must have at least 32 characters"
            )
        return configured.encode()

    # The embedded default keeps a generated key in the data folder, so links
    # and logins survive a restart without any setup.
    data_dir.mkdir(parents=True, exist_ok=True)
    key_file = data_dir / "secret.key"
    if not key_file.exists():
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return key_file.read_text().strip().encode()


def _master_key(configured: str, data_dir: Path) -> bytes:
    """The key that wraps every data key. Configured in production; on the
    embedded default it is generated next to a new key store, and a key store
    without its master key refuses to start rather than run unencrypted."""
    key_file = data_dir / "master.key"
    if not configured and not key_file.exists() and (data_dir / "keys.sqlite").exists():
        raise ConfigurationError(
            "SPRECHZIMMER_MASTER_KEY is missing: the key store in "
            f"{data_dir} cannot be opened without the master key it was made with"
        )
    return _generated_or_configured("MASTER_KEY", configured, key_file)


def _generated_or_configured(name: str, configured: str, key_file: Path) -> bytes:
    raw = configured
    if not raw:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        if not key_file.exists():
            descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
        raw = key_file.read_text().strip()
    try:
        key = base64.urlsafe_b64decode(raw.encode() + b"=" * (-len(raw) % 4))
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != 32:
        raise ConfigurationError(
            f"SPRECHZIMMER_{name} must be 32 random bytes in base64url, e.g. from "
            '`python3 -c "import base64,os;print(base64.urlsafe_b64encode('
            'os.urandom(32)).decode())"`'
        )
    return key


def _whole_number(name: str, raw: str, default: int) -> int:
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        raise ConfigurationError(
            f"SPRECHZIMMER_{name} must be a whole number from 1 to 10000"
        )
    return int(raw)


def _imprint(path: str) -> str:
    """The operator's legal notice (Impressum), from a text file."""
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigurationError(
            f"SPRECHZIMMER_IMPRINT_FILE cannot be read: {error.strerror}"
        ) from None


def _seconds(raw: str, default: float) -> float:
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if value <= 0:
        raise ConfigurationError(f"expected a positive number of seconds, got {raw!r}")
    return value


def _ice_servers(raw: str) -> list[dict[str, Any]]:
    try:
        servers = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ConfigurationError(
            'SPRECHZIMMER_ICE_SERVERS must be JSON, e.g. [{"urls": "stun:host:3478"}]'
        ) from None
    if not isinstance(servers, list) or not all(
        isinstance(server, dict) and "urls" in server for server in servers
    ):
        raise ConfigurationError(
            "SPRECHZIMMER_ICE_SERVERS must be a list of objects with 'urls'"
        )
    return servers


def _turn_settings(get: Callable[[str], str]) -> dict[str, Any]:
    urls = tuple(url.strip() for url in get("TURN_URLS").split(",") if url.strip())
    for url in urls:
        if not _is_turn_url(url):
            raise ConfigurationError(
                f"SPRECHZIMMER_TURN_URLS: {url!r} is not a TURN address; expected "
                "comma-separated turn:host:port?transport=udp or turns:host:5349"
            )
    secret = get("TURN_SECRET")
    if urls and not secret:
        raise ConfigurationError(
            "SPRECHZIMMER_TURN_SECRET is missing: the TURN server's "
            "static-auth-secret is needed to hand out credentials for "
            "SPRECHZIMMER_TURN_URLS"
        )
    if secret and not urls:
        raise ConfigurationError(
            "SPRECHZIMMER_TURN_SECRET is set but SPRECHZIMMER_TURN_URLS is not: "
            "name the TURN server, e.g. turn:turn.example.org:3478"
        )
    if secret and len(secret) < MIN_TURN_SECRET_LENGTH:
        raise ConfigurationError(
            f"SPRECHZIMMER_TURN_SECRET must have at least {MIN_TURN_SECRET_LENGTH} "
            "characters: whoever guesses it can use the relay"
        )

    raw_seconds = get("TURN_CREDENTIAL_SECONDS") or "3600"
    if not raw_seconds.isdigit() or not 60 <= int(raw_seconds) <= 86_400:
        raise ConfigurationError(
            "SPRECHZIMMER_TURN_CREDENTIAL_SECONDS must be a whole number of "
            "seconds from 60 to 86400"
        )

    policy = get("ICE_TRANSPORT_POLICY").lower() or "all"
    if policy not in ICE_TRANSPORT_POLICIES:
        raise ConfigurationError(
            "SPRECHZIMMER_ICE_TRANSPORT_POLICY must be 'all' or 'relay'"
        )
    if policy == "relay" and not urls:
        raise ConfigurationError(
            "SPRECHZIMMER_ICE_TRANSPORT_POLICY=relay needs a TURN server: "
            "set SPRECHZIMMER_TURN_URLS and SPRECHZIMMER_TURN_SECRET"
        )
    return {
        "turn_urls": urls,
        "turn_secret": secret,
        "turn_credential_seconds": int(raw_seconds),
        "ice_transport_policy": policy,
    }


def _is_turn_url(url: str) -> bool:
    found = TURN_URL.fullmatch(url)
    if found is None:
        return False
    port = found.group(2)
    return port is None or 0 < int(port[1:]) < 65536


def _has_valid_port(url: str) -> bool:
    try:
        port = urlsplit(url).port
    except ValueError:
        return False
    return port is None or 0 < port < 65536


def _flag(raw: str, default: bool) -> bool:
    if not raw:
        return default
    return raw.lower() in ("1", "true", "yes", "on")
