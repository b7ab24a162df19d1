"""The archive's read side on SQLite and PostgreSQL: search, keyset pages, an alert's history,
episodes (MTTA/MTTR), incidents and roll-ups, and the query plans on the indexes."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from archive import queries
from archive.accounts import Scope
from archive.records import Batch
from archive.sample import add_alert_versions, add_command, seed_alert_versions
from archive.store import Store
from ioc.errors import ValidationError
from ioc.events import GroupIndicator, Incident, encode

T0 = 1_795_000_000.0
FLOOD = "robust_z:flooding:flood-HC-01:flood_depth"
TRAFFIC = "cusum:traffic:trf-LC-02:speed"


def _write(store: Store, *records: object) -> None:
    b = Batch()
    for n, rec in enumerate(records):
        b.add("alerts" if isinstance(rec, Incident) else "indicators",
              "t.x", 0, n, encode(rec))
    assert not b.rejects, b.rejects
    store.write(f"test-{time.monotonic_ns()}", b, expected={})


@pytest.fixture
def history(store: Store) -> Store:
    add_alert_versions(store, FLOOD, [("opened", T0, None), ("escalated", T0 + 60, None),
                                      ("acknowledged", T0 + 120, "operator:lan"),
                                      ("note", T0 + 150, "operator:lan"),
                                      ("resolved", T0 + 600, "operator:lan")],
                       severity="major", notes=["crew at the pump"],
                       title="Flood depth 34 cm at flood-HC-01 (Hai Chau)")
    add_command(store, command_id="c-ack", action="ack", user="operator:lan", ts=T0 + 119,
                alert_id=FLOOD, reason="crew sent")
    add_command(store, command_id="c-note", action="note", user="operator:lan", ts=T0 + 149,
                alert_id=FLOOD, text="crew at the pump")
    add_command(store, command_id="c-bad", action="resolve", user="operator", ts=T0 + 130,
                alert_id=FLOOD, result="refused: alert_id: closed")
    add_alert_versions(store, TRAFFIC, [("opened", T0 + 30, None),
                                        ("auto_resolved", T0 + 3630, None)],
                       severity="warning", district="Lien Chieu")
    return store


def test_search_filters_each_field(history: Store) -> None:
    """Every filter narrows the versions; text matches title, id or source in any case."""
    def ids(**kw: object) -> list[tuple[str, int]]:
        return [(r["alert_id"], r["version"]) for r in
                queries.search_alerts(history, **kw).rows]  # type: ignore[arg-type]

    assert len(ids()) == 7
    assert ids(group="traffic") == [(TRAFFIC, 2), (TRAFFIC, 1)]
    assert ids(district="Lien Chieu") == [(TRAFFIC, 2), (TRAFFIC, 1)]
    assert ids(source="flood-HC-01", status="acknowledged") == [(FLOOD, 4), (FLOOD, 3)]
    assert ids(severity="warning", status="resolved") == [(TRAFFIC, 2)]
    assert ids(text="FLOOD DEPTH 34") == [(FLOOD, v) for v in (5, 4, 3, 2, 1)]
    assert ids(text="trf-lc") == [(TRAFFIC, 2), (TRAFFIC, 1)]
    assert ids(text="100%_") == []  # LIKE wildcards are literal
    assert ids(since=T0 + 100, until=T0 + 600) == [(FLOOD, 4), (FLOOD, 3)]
    row = queries.search_alerts(history, status="resolved", group="flooding").rows[0]
    assert (row["group"], row["user_name"], row["change"]) == ("flooding", "operator:lan",
                                                              "resolved")


def test_keyset_pages_cover_every_version_once(history: Store) -> None:
    """Pages of 2 walk all 7 versions newest first, none twice, ties on time included."""
    add_alert_versions(history, "stuck:flooding:flood-HC-02:flood_depth",
                       [("opened", T0 + 600, None)])  # same time as FLOOD's resolution
    seen, cursor = [], None
    for _ in range(10):
        page = queries.search_alerts(history, limit=2, cursor=cursor)
        seen += [(r["updated_at"], r["alert_id"], r["version"]) for r in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 8 == len(set(seen))
    assert seen == sorted(seen, reverse=True)


@pytest.mark.parametrize("kw, field", [
    ({"group": "nope"}, "group"), ({"district": "Da Lat"}, "district"),
    ({"severity": "huge"}, "severity"), ({"status": "open"}, "status"),
    ({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"cursor": "garbage!"}, "cursor"),
    ({"text": "x" * 201}, "text")])
def test_search_refuses_bad_parameters_by_name(store: Store, kw: dict[str, object],
                                               field: str) -> None:
    with pytest.raises(ValidationError) as err:
        queries.search_alerts(store, **kw)  # type: ignore[arg-type]
    assert err.value.field == field


def test_alert_history_has_versions_commands_users_and_notes(history: Store) -> None:
    h = queries.alert_history(history, FLOOD)
    assert h is not None
    assert [(v["version"], v["change"], v["status"]) for v in h["versions"]] == [
        (1, "opened", "firing"), (2, "escalated", "firing"), (3, "acknowledged", "acknowledged"),
        (4, "note", "acknowledged"), (5, "resolved", "resolved")]
    assert h["versions"][3]["notes"][0]["text"] == "crew at the pump"
    assert h["versions"][3]["note"] == "crew at the pump"
    assert [(c["action"], c["user"], c["result"]) for c in h["commands"]] == [
        ("ack", "operator:lan", "accepted"), ("resolve", "operator", "refused: alert_id: closed"),
        ("note", "operator:lan", "accepted")]
    assert h["commands"][0]["reason"] == "crew sent"
    assert queries.alert_history(history, "robust_z:flooding:nothing:here") is None


def test_episodes_measure_ack_and_resolution_per_episode(store: Store) -> None:
    """An alert id reused by a later episode: each episode has its own ack and resolution; a
    reopened alert counts until its final resolution; one still open has no MTTR."""
    add_alert_versions(store, FLOOD, [
        ("opened", T0, None), ("acknowledged", T0 + 100, "a"), ("resolved", T0 + 200, "a"),
        ("reopened", T0 + 300, None), ("auto_resolved", T0 + 900, None),
        ("opened", T0 + 5000, None), ("acknowledged", T0 + 5050, "b"),
        ("note", T0 + 5060, "b")], notes=["still there"])
    eps = queries.episodes(store, since=T0 - 1, until=T0 + 10_000)
    assert [(e.version, e.ack_s, e.ack_user, e.resolve_s) for e in eps] == [
        (1, 100.0, "a", 900.0), (6, 50.0, "b", None)]
    assert queries.episodes(store, since=T0 + 1, until=T0 + 10_000)[0].version == 6
    assert queries.episodes(store, since=T0, until=T0 + 1, group="traffic") == []


def test_incidents_and_rollups(store: Store) -> None:
    inc = Incident(incident_id="inc:HC:1", version=1, status="open", district="Hai Chau",
                   groups=["flooding", "traffic"], alert_ids=[FLOOD], severity="major",
                   title="Flooding and traffic in Hai Chau", first_seen=T0, last_seen=T0,
                   updated_at=T0)
    gis = [GroupIndicator(group="flooding", district=d, start=T0 + 60 * k, end=T0 + 60 * k + 60,
                          sources_reporting=5, sources_expected=6, sources_in_breach=1,
                          open_alerts={}, kpis={"max_depth": depth + k})
           for d, depth in (("Hai Chau", 10.0), ("Son Tra", 20.0)) for k in range(3)]
    _write(store, inc, *gis)
    got = queries.incidents_opened(store, since=T0, until=T0 + 1)
    assert [(i["incident_id"], i["groups"]) for i in got] == [("inc:HC:1", ["flooding",
                                                                            "traffic"])]
    assert queries.incidents_opened(store, since=T0, until=T0 + 1, district="Son Tra") == []
    rows = queries.rollups(store, resolution="h", since=T0 - 3600, until=T0 + 3600,
                           group="flooding")
    by = {(r["district"], r["metric"]): r for r in rows}
    assert by[("Hai Chau", "kpi:max_depth")]["mean"] == pytest.approx(11.0)
    assert by[("Son Tra", "kpi:max_depth")]["max"] == 22.0
    assert all(r["metric"].startswith("kpi:") for r in rows)


def test_a_scope_narrows_search_history_episodes_incidents_and_rollups(
        history: Store) -> None:
    """A Lien Chieu reader finds Lien Chieu's versions only; another district's alert is
    absent (None, as if the archive had none); incidents keep their groups in scope."""
    lien_chieu, flooding = Scope(("Lien Chieu",)), Scope((), ("flooding",))
    rows = queries.search_alerts(history, scope=lien_chieu).rows
    assert {r["alert_id"] for r in rows} == {TRAFFIC}
    assert queries.search_alerts(history, group="flooding", scope=lien_chieu).rows == []
    assert queries.alert_history(history, FLOOD, lien_chieu) is None
    assert queries.alert_history(history, TRAFFIC, lien_chieu) is not None
    assert queries.alert_history(history, FLOOD, flooding) is not None
    assert queries.alert_history(history, TRAFFIC, flooding) is None
    assert [e.alert_id for e in queries.episodes(history, since=T0, until=T0 + 100,
                                                 scope=lien_chieu)] == [TRAFFIC]
    inc = Incident(incident_id="inc:LC:1", version=1, status="open", district="Lien Chieu",
                   groups=["flooding", "traffic"], alert_ids=[TRAFFIC], severity="major",
                   title="Lien Chieu: flooding + traffic", first_seen=T0, last_seen=T0,
                   updated_at=T0)
    gis = [GroupIndicator(group="flooding", district=d, start=T0, end=T0 + 60,
                          sources_reporting=5, sources_expected=6, sources_in_breach=1,
                          open_alerts={}, kpis={"max_depth": 3.0})
           for d in ("Hai Chau", "Lien Chieu")]
    _write(history, inc, *gis)
    assert [i["groups"] for i in queries.incidents_opened(
        history, since=T0, until=T0 + 1, scope=Scope((), ("traffic", "energy")))] == [
        ["traffic"]]
    assert queries.incidents_opened(history, since=T0, until=T0 + 1,
                                    scope=Scope(("Hai Chau",))) == []
    rows = queries.rollups(history, resolution="h", since=T0 - 3600, until=T0 + 3600,
                           scope=lien_chieu)
    assert rows and {r["district"] for r in rows} == {"Lien Chieu"}


def _plan(store: Store, query: sa.Select[object]) -> str:
    compiled = query.compile(store.engine, compile_kwargs={"literal_binds": True})
    prefix = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
    with store.engine.connect() as conn:
        return "\n".join(" ".join(str(c) for c in row)
                         for row in conn.execute(sa.text(prefix + str(compiled))))


def test_search_plans_use_the_indexes(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """On 20,000 versions the search by group, by source and unfiltered walk an index (no full
    scan and sort of the table); a report's episodes use the openings' and the episodes'
    indexes."""
    seed_alert_versions(store, 20_000, seed=3)
    with store.engine.begin() as conn:
        if store.dialect == "postgresql":
            conn.execute(sa.text("ANALYZE alert_versions"))
        else:
            conn.execute(sa.text("ANALYZE"))
    captured: list[sa.Select[object]] = []
    real = store.connect

    class Spy:
        def __enter__(self) -> Spy:
            self.conn = real().__enter__()
            return self

        def __exit__(self, *exc: object) -> None:
            self.conn.__exit__(*exc)

        def execute(self, q: sa.Select[object]) -> object:
            captured.append(q)
            return self.conn.execute(q)

    monkeypatch.setattr(store, "connect", Spy)
    cursor = queries.search_alerts(store, limit=5).next_cursor
    for kw in ({"group": "traffic"}, {"source": "trf-HC-01"}, {},
               {"district": "Son Tra", "cursor": cursor}):
        captured.clear()
        queries.search_alerts(store, limit=50, **kw)  # type: ignore[arg-type]
        plan = _plan(store, captured[0])
        if store.dialect == "sqlite":
            assert "USING INDEX ix_alert_versions_" in plan, plan
        else:
            assert "Index Scan" in plan and "ix_alert_versions_" in plan, plan
    captured.clear()
    queries.episodes(store, since=1.7e9, until=1.7e9 + 86400)
    plan = _plan(store, captured[0])
    assert "ix_alert_versions_episode" in plan, plan   # an episode's ack and resolution
    assert "ix_alert_versions_change" in plan, plan    # the openings of the period
