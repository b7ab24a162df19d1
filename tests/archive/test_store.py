"""The archive store on SQLite and PostgreSQL: schema, exactly-once writes, roll-ups that merge
across batches, dead-letter counts and command results, rejects, retention, bad URLs."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from archive import schema
from archive.records import Batch
from archive.store import Fenced, Store
from ioc.errors import ConfigError
from ioc.events import (
    Alert,
    Command,
    DeadLetter,
    Evidence,
    GroupIndicator,
    WindowSummary,
    encode,
)

T0 = 1_795_366_800.0  # 2026-11-23 00:00 in Da Nang


def alert(version: int, change: str = "opened", status: str = "firing", **kw: object) -> Alert:
    ev = Evidence(window_start=T0, window_end=T0 + 60, value=40.0, baseline=10.0,
                  threshold=30.0, score=0.95, raw=5.0, detector="robust_z",
                  detector_version="2", params={}, recent=[10.0, 40.0])
    fields: dict[str, object] = dict(
        alert_id="robust_z:flooding:flood-HC-01:flood_depth", version=version, status=status,
        severity="major", category="city", group="flooding", district="Hai Chau",
        source="flood-HC-01", metric="flood_depth", detector="robust_z",
        title="Flood depth high at flood-HC-01", first_seen=T0, last_seen=T0 + 60 * version,
        count=version, updated_at=T0 + 60 * version, change=change, evidence=ev)
    fields.update(kw)
    return Alert(**fields)  # type: ignore[arg-type]


def summary(source: str, start: float, count: int, mean: float, lo: float, hi: float,
            last: float, metric: str = "flood_depth") -> bytes:
    return encode([WindowSummary("flooding", source, metric, "Hai Chau", start, start + 60,
                                 count, mean, lo, hi, last, 1.0)])


def test_migrations_create_exactly_the_declared_schema(store: Store) -> None:
    inspector = sa.inspect(store.engine)
    for table in schema.metadata.sorted_tables:
        got = {c["name"] for c in inspector.get_columns(table.name)}
        assert got == {c.name for c in table.columns}, table.name
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        assert indexes == {i.name for i in table.indexes}, table.name
    assert store.revision() == "0006"


def test_an_upgrade_from_the_first_schema_keeps_the_rows(database_url: str) -> None:
    s = Store(database_url)
    try:
        s.migrate("0001")
        b = Batch()
        b.add("alerts", "ioc.alerts", 0, 0, encode(alert(1)))
        b.alerts = [{k: v for k, v in r.items() if k not in ("login", "display_name")}
                    for r in b.alerts]  # the row as the first schema's writer made it
        s.write("archive", b, expected={})
        s.migrate("head")
        assert s.count("alert_versions") == 1
        assert s.offsets("archive") == {("ioc.alerts", 0): 1}
    finally:
        s.close()


def test_a_batch_and_its_offsets_commit_together_and_a_stale_writer_is_fenced(
        store: Store) -> None:
    first = Batch()
    first.add("alerts", "ioc.alerts", 2, 10, encode(alert(1)))
    first.add("alerts", "ioc.alerts", 2, 11, encode(alert(2, "acknowledged", "acknowledged",
                                                         user="operator", reason="crew")))
    store.write("archive", first, expected={})
    assert store.offsets("archive") == {("ioc.alerts", 2): 12}
    again = Batch()
    again.add("alerts", "ioc.alerts", 2, 12, encode(alert(3, "resolved", "resolved")))
    with pytest.raises(Fenced):
        store.write("archive", again, expected={("ioc.alerts", 2): 10})  # someone moved on
    assert store.count("alert_versions") == 2
    store.write("archive", again, expected={("ioc.alerts", 2): 12})
    assert store.count("alert_versions") == 3
    assert store.offsets("archive") == {("ioc.alerts", 2): 13}
    assert store.offsets("another-group") == {}
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(schema.alert_versions).where(
            schema.alert_versions.c.version == 2)).one()
    assert (row.status, row.user_name, row.reason, row.group_slug) == (
        "acknowledged", "operator", "crew", "flooding")


def test_roll_ups_merge_across_batches(store: Store) -> None:
    a, b = Batch(), Batch()
    a.add("indicators", "ioc.indicators", 0, 0, summary("flood-HC-01", T0, 6, 10.0, 8.0, 12.0,
                                                        11.0))
    b.add("indicators", "ioc.indicators", 0, 1, summary("flood-HC-02", T0 + 60, 4, 20.0, 15.0,
                                                        30.0, 16.0))
    b.add("indicators", "ioc.indicators", 0, 2, summary("flood-HC-03", T0 - 60, 0, 0.0, 0.0,
                                                        0.0, 0.0))
    store.write("archive", a, expected={})
    store.write("archive", b, expected={("ioc.indicators", 0): 1})
    r = schema.indicator_rollups
    with store.engine.connect() as conn:
        hour = conn.execute(sa.select(r).where((r.c.resolution == "h") & (r.c.bucket == T0))
                            ).one()
        days = {row.bucket: row.windows for row in conn.execute(
            sa.select(r.c.bucket, r.c.windows).where(r.c.resolution == "d"))}
    assert (hour.windows, hour.readings, hour.total) == (2, 10, 140.0)
    assert (hour.min, hour.max, hour.last, hour.last_ts) == (8.0, 30.0, 16.0, T0 + 60)
    # T0 is midnight in Da Nang: the (empty) window at 23:59 belongs to the day before
    assert days == {T0 - 86400: 1, T0: 2}


def test_group_indicators_roll_up_as_kpis_and_source_counts(store: Store) -> None:
    b = Batch()
    ind = GroupIndicator(group="flooding", district="Hai Chau", start=T0, end=T0 + 60,
                         sources_reporting=9, sources_expected=10, sources_in_breach=1,
                         open_alerts={"warning": 2, "major": 1},
                         kpis={"max_flood_depth_cm": 42.0})
    b.add("indicators", "ioc.indicators", 1, 0, encode(ind))
    store.write("archive", b, expected={})
    r = schema.indicator_rollups
    with store.engine.connect() as conn:
        got = {row.metric: row.last for row in conn.execute(
            sa.select(r.c.metric, r.c.last).where(r.c.resolution == "h"))}
    assert got == {"kpi:max_flood_depth_cm": 42.0, "sources:reporting": 9.0,
                   "sources:expected": 10.0, "sources:in_breach": 1.0, "alerts:open": 3.0}


def test_dead_letters_are_counted_and_a_refused_command_gets_its_result(store: Store) -> None:
    cmd = Command(command_id="c-1", action="ack", user="operator", ts=T0,
                  alert_id="robust_z:flooding:flood-HC-01:flood_depth")
    b = Batch()
    b.add("commands", "ioc.commands", 0, 7, encode(cmd))
    for i in range(3):
        b.add("deadletter", "ioc.deadletter", 0, i, encode(DeadLetter(
            reason=f"unknown district 'X{i}'", field="$.district", topic="ioc.flooding.events",
            partition=0, offset=i, raw=b"{}", ts=T0 + i)))
    b.add("deadletter", "ioc.deadletter", 0, 3, encode(DeadLetter(
        reason="no alert 'robust_z:flooding:flood-HC-01:flood_depth' on this worker",
        field="alert_id", topic="ioc.commands", partition=0, offset=7, raw=b"{}", ts=T0)))
    store.write("archive", b, expected={})
    d = schema.deadletter_counts
    with store.engine.connect() as conn:
        counts = {(row.topic, row.reason): row.n for row in conn.execute(sa.select(d))}
        result = conn.execute(sa.select(schema.commands.c.result)).scalar_one()
    assert counts == {("ioc.flooding.events", "unknown district"): 3,
                      ("ioc.commands", "no alert"): 1}
    assert result.startswith("refused: alert_id: no alert")


def test_a_record_that_cannot_be_decoded_is_kept_as_a_reject(store: Store) -> None:
    b = Batch()
    b.add("alerts", "ioc.alerts", 0, 0, b"[" * 5000)
    b.add("commands", "ioc.commands", 0, 0, b'{"command_id": 1}')
    store.write("archive", b, expected={})
    assert store.count("archive_rejects") == 2
    assert store.offsets("archive") == {("ioc.alerts", 0): 1, ("ioc.commands", 0): 1}


def test_retention_drops_old_hourly_roll_ups_and_keeps_daily_ones(store: Store) -> None:
    b = Batch()
    b.add("indicators", "ioc.indicators", 0, 0, summary("flood-HC-01", T0, 6, 1.0, 1.0, 1.0,
                                                        1.0))
    store.write("archive", b, expected={})
    gone = store.apply_retention(T0 + 401 * 86400, hourly_days=400, daily_days=0,
                                 alert_days=0)
    assert gone == {"indicator_rollups.h": 1}
    r = schema.indicator_rollups
    with store.engine.connect() as conn:
        assert [row.resolution for row in conn.execute(sa.select(r.c.resolution))] == ["d"]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.floats(0, 1000, allow_nan=False)),
                min_size=1, max_size=30), st.integers(1, 5))
def test_roll_ups_do_not_depend_on_how_records_are_batched(
        windows: list[tuple[int, float]], cut: int) -> None:
    def totals(batches: list[list[int]]) -> tuple[int, int, float, float, float]:
        s = Store("sqlite://")
        s.migrate()
        expected: dict[tuple[str, int], int | None] = {}
        for idx in batches:
            b = Batch()
            for i in idx:
                n, v = windows[i]
                b.add("indicators", "ioc.indicators", 0, i,
                      summary("flood-HC-01", T0 + 60 * i, n, v, v, v, v))
            s.write("archive", b, expected=expected)
            expected = dict(b.offsets)
        r = schema.indicator_rollups
        with s.engine.connect() as conn:
            row = conn.execute(sa.select(r).where(r.c.resolution == "d")).one()
        s.close()
        return row.windows, row.readings, round(row.total, 6), row.min, row.max

    idx = list(range(len(windows)))
    one = totals([idx])
    many = totals([idx[i:i + cut] for i in range(0, len(idx), cut)])
    assert one == many


def test_a_bad_database_url_names_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"^IOC_DATABASE_URL: not a usable database URL"):
        Store("postgres:/nowhere::")
    with pytest.raises(ConfigError, match="runs on sqlite or postgresql, got 'mysql'"):
        Store("mysql://db/ioc")
    unreachable = Store("postgresql+psycopg://postgres@127.0.0.1:1/ioc")
    with pytest.raises(ConfigError, match=r"^IOC_DATABASE_URL: cannot open the archive database"):
        unreachable.migrate()
