"""The practice's TURN relay: how it is configured, and the short-lived
credentials each signaling connection gets in coturn's shared-secret scheme."""

import re
from pathlib import Path

import pytest

from application.config import ConfigurationError, Settings, load_settings
from application.ice_servers import IceConfigRenewal, ice_config, turn_credential

SECRET = "Praxis-am-Markt-Relay-Geheimnis"
NEW_YEAR_2026 = 1767225600
STUN = {"urls": "stun:stun.praxis.test:3478"}


def settings(tmp_path: Path, **env: str) -> Settings:
    return load_settings(
        {
            "SPRECHZIMMER_DATA_DIR": str(tmp_path),
            **{f"SPRECHZIMMER_{name}": value for name, value in env.items()},
        }
    )


def relay(tmp_path: Path, **env: str) -> Settings:
    return settings(
        tmp_path,
        TURN_URLS="turn:turn.praxis.test:3478?transport=udp",
        TURN_SECRET=SECRET,
        **env,
    )


def test_the_credential_is_the_base64_hmac_sha1_of_expiry_and_opaque_id() -> None:
    credential = turn_credential(SECRET, NEW_YEAR_2026 - 3600, 3600, "0011223344556677")

    assert credential.username == "1767225600:0011223344556677"
    # openssl dgst -sha1 -hmac <secret> -binary | base64, computed independently.
    assert credential.credential == "jiuDqhkU8v2sSzifr5MbcJ8StHc="
    assert credential.expires_at == NEW_YEAR_2026


def test_each_credential_expires_after_the_configured_time_and_names_nobody() -> None:
    first = turn_credential(SECRET, NEW_YEAR_2026 + 0.9, 600)
    second = turn_credential(SECRET, NEW_YEAR_2026 + 0.9, 600)

    for credential in (first, second):
        assert re.fullmatch(r"1767226200:[0-9a-f]{16}", credential.username)
        assert credential.expires_at == NEW_YEAR_2026 + 600
    assert first.username != second.username
    assert first.credential != second.credential


def test_the_ice_config_adds_the_relay_to_the_static_servers(tmp_path: Path) -> None:
    configured = relay(
        tmp_path,
        ICE_SERVERS='[{"urls": "stun:stun.praxis.test:3478"}]',
        TURN_CREDENTIAL_SECONDS="900",
    )

    message = ice_config(configured, NEW_YEAR_2026)

    assert message["type"] == "ice-config"
    assert message["iceTransportPolicy"] == "all"
    stun, turn = message["iceServers"]
    assert stun == STUN
    assert turn["urls"] == ["turn:turn.praxis.test:3478?transport=udp"]
    assert turn["username"].startswith(f"{NEW_YEAR_2026 + 900}:")
    assert turn["credential"] == (
        turn_credential(
            SECRET, NEW_YEAR_2026, 900, turn["username"].split(":", 1)[1]
        ).credential
    )


def test_a_connection_gets_new_credentials_when_half_their_time_is_gone(
    tmp_path: Path,
) -> None:
    renewal = IceConfigRenewal(relay(tmp_path, TURN_CREDENTIAL_SECONDS="3600"))

    first = renewal.due(NEW_YEAR_2026)
    assert first is not None
    assert renewal.due(NEW_YEAR_2026 + 20) is None
    assert renewal.due(NEW_YEAR_2026 + 1799) is None
    renewed = renewal.due(NEW_YEAR_2026 + 1800)
    assert renewed is not None
    assert renewed["iceServers"] != first["iceServers"]


def test_without_a_relay_the_page_s_static_servers_are_all_and_nothing_is_sent(
    tmp_path: Path,
) -> None:
    configured = settings(tmp_path, ICE_SERVERS='[{"urls": "stun:h:3478"}]')

    assert configured.turn_urls == ()
    assert configured.ice_transport_policy == "all"
    assert IceConfigRenewal(configured).due(NEW_YEAR_2026) is None


def test_several_relay_addresses_and_a_forced_relay_are_read(tmp_path: Path) -> None:
    configured = settings(
        tmp_path,
        TURN_URLS=" turn:127.0.0.1:3478?transport=udp , turns:turn.praxis.test:5349,"
        "turn:[::1]:3478?transport=tcp",
        TURN_SECRET=SECRET,
        TURN_CREDENTIAL_SECONDS="7200",
        ICE_TRANSPORT_POLICY="Relay",
    )

    assert configured.turn_urls == (
        "turn:127.0.0.1:3478?transport=udp",
        "turns:turn.praxis.test:5349",
        "turn:[::1]:3478?transport=tcp",
    )
    assert configured.turn_credential_seconds == 7200
    assert configured.ice_transport_policy == "relay"
    assert ice_config(configured, NEW_YEAR_2026)["iceTransportPolicy"] == "relay"
    assert SECRET not in repr(configured)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TURN_URLS": "stun:turn.praxis.test:3478"}, "is not a TURN address"),
        ({"TURN_URLS": "turn:turn.praxis.test:99999"}, "is not a TURN address"),
        ({"TURN_URLS": "turn:host:3478?transport=sctp"}, "is not a TURN address"),
        ({"TURN_URLS": "turn://user:pw@host:3478"}, "is not a TURN address"),
        ({"TURN_URLS": "turn:turn.praxis.test:3478"}, "TURN_SECRET is missing"),
        ({"TURN_SECRET": SECRET}, "TURN_URLS is not"),
        (
            {"TURN_URLS": "turn:turn.praxis.test", "TURN_SECRET": "kurz"},
            "at least 16 characters",
        ),
        ({"ICE_TRANSPORT_POLICY": "none"}, "must be 'all' or 'relay'"),
        ({"ICE_TRANSPORT_POLICY": "relay"}, "relay needs a TURN server"),
        ({"TURN_CREDENTIAL_SECONDS": "eine Stunde"}, "from 60 to 86400"),
        ({"TURN_CREDENTIAL_SECONDS": "30"}, "from 60 to 86400"),
        ({"TURN_CREDENTIAL_SECONDS": "100000"}, "from 60 to 86400"),
    ],
)
def test_a_misconfigured_relay_stops_the_start_with_a_message_to_act_on(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message) as refused:
        settings(tmp_path, **env)

    assert SECRET not in str(refused.value)
