"""Settings: typed, frozen, read from IOC_* variables, failing fast with the variable's name."""

from __future__ import annotations

import dataclasses

import pytest

from ioc.errors import ConfigError
from ioc.settings import Settings, settings_table


def test_defaults_use_the_embedded_broker() -> None:
    s = Settings.from_env({})
    assert s.embedded and s.kafka_bootstrap is None
    assert s.partitions == 4 and s.processing_guarantee == "at_least_once"


def test_every_field_reads_its_variable() -> None:
    env = {"IOC_KAFKA_BOOTSTRAP": "k1:9092,k2:9092", "IOC_PARTITIONS": "12",
           "IOC_ALLOWED_LATENESS_S": "7.5", "IOC_REQUIRE_PLUGINS": "yes",
           "IOC_PROCESSING_GUARANTEE": "exactly_once", "IOC_LOG_LEVEL": "debug",
           "IOC_OPERATOR_TOKEN": "s3cret"}
    s = Settings.from_env(env)
    assert s.kafka_bootstrap == "k1:9092,k2:9092" and not s.embedded
    assert (s.partitions, s.allowed_lateness_s, s.require_plugins) == (12, 7.5, True)
    assert s.processing_guarantee == "exactly_once" and s.log_level == "DEBUG"
    assert s.operator_token == "s3cret"


def test_settings_are_frozen() -> None:
    s = Settings.from_env({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.partitions = 3  # type: ignore[misc]


def test_empty_variable_means_default() -> None:
    assert Settings.from_env({"IOC_PARTITIONS": ""}).partitions == 4


@pytest.mark.parametrize(("env", "message"), [
    ({"IOC_PARTITIONS": "four"}, "IOC_PARTITIONS: expected an integer, got 'four'"),
    ({"IOC_PARTITIONS": "0"}, "IOC_PARTITIONS: must be at least 1"),
    ({"IOC_ALLOWED_LATENESS_S": "nan"}, "IOC_ALLOWED_LATENESS_S: expected a finite number"),
    ({"IOC_INCIDENT_SPAN_S": "soon"}, "IOC_INCIDENT_SPAN_S: expected a number"),
    ({"IOC_REQUIRE_PLUGINS": "maybe"}, "IOC_REQUIRE_PLUGINS: expected true or false"),
    ({"IOC_PROCESSING_GUARANTEE": "twice"},
     "IOC_PROCESSING_GUARANTEE: must be one of at_least_once, exactly_once"),
    ({"IOC_LOG_LEVEL": "LOUD"}, "IOC_LOG_LEVEL: must be one of"),
])
def test_bad_values_name_the_variable_and_the_fix(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(env)
    assert message in str(info.value)


def test_table_documents_every_variable() -> None:
    table = settings_table()
    for f in dataclasses.fields(Settings):
        assert f"`{f.metadata['env']}`" in table
