"""Production settings are checked at start, with a message naming the
setting; none of them is taken half-understood."""

import pytest

from application.config import ConfigurationError, load_settings
from application.persistence import postgres_environment


def settings_with(tmp_path: object, **values: str) -> object:
    environment = {"SPRECHZIMMER_DATA_DIR": str(tmp_path)}
    environment.update({f"SPRECHZIMMER_{k}": v for k, v in values.items()})
    return load_settings(environment)


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("DATABASE_URL", "mysql://db/sprechzimmer", "DATABASE_URL"),
        ("DATABASE_URL", "postgresql://db:abc/sprechzimmer", "DATABASE_URL"),
        ("DATABASE_URL", "postgresql://db:70000/sprechzimmer", "DATABASE_URL"),
        ("REDIS_URL", "http://127.0.0.1:6379/0", "REDIS_URL"),
        ("REDIS_URL", "redis://127.0.0.1:6379/abc", "REDIS_URL"),
        ("REDIS_URL", "redis://127.0.0.1:port/0", "REDIS_URL"),
        ("JOB_QUEUE", "jobs with spaces", "JOB_QUEUE"),
        ("NODE_NAME", "web 1", "NODE_NAME"),
        ("DATABASE_POOL_SIZE", "0", "DATABASE_POOL_SIZE"),
    ],
)
def test_a_malformed_production_setting_is_refused_by_name(
    tmp_path: object, name: str, value: str, named: str
) -> None:
    values = {"DATABASE_URL": "postgresql://db/sprechzimmer", name: value}
    with pytest.raises(ConfigurationError, match=named):
        settings_with(tmp_path, **values)


def test_a_database_url_becomes_eventsourcing_settings() -> None:
    env = postgres_environment("postgresql://praxis:g%40heim@db.local:6543/sz", 3)
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("db.local", "6543")
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("praxis", "g@heim")
    assert env["POSTGRES_DBNAME"] == "sz"
    assert env["POSTGRES_POOL_SIZE"] == "3"


def test_a_socket_folder_may_stand_for_the_host() -> None:
    env = postgres_environment("postgresql:///sz?host=/var/run/postgresql", 2)
    assert env["POSTGRES_HOST"] == "/var/run/postgresql"
    assert env["POSTGRES_PORT"] == "5432"


def test_a_database_url_without_a_database_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="database"):
        postgres_environment("postgresql://db.local:5432/", 2)
