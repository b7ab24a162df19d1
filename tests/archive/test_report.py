"""Leadership reports on SQLite and PostgreSQL: periods in Da Nang time, the figures of a
known day (opened by severity, incidents, MTTA/MTTR and their trend, SLA shares, noisiest,
KPIs from the roll-ups), the CSV and HTML renderings, and ``ioc report``'s errors."""

from __future__ import annotations

import csv
import html
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive import report
from archive.accounts import Scope
from archive.sample import sample_day
from archive.store import Store
from ioc import i18n
from ioc.cli import cli
from ioc.errors import ConfigError, UsageError, ValidationError
from ioc.settings import Settings

DAY = "2026-12-02"
T0 = report.period("day", DAY).start
SLA = Settings().ack_sla_s
IOC = Path(sys.executable).parent / "ioc"  # the console script


def test_periods_are_da_nang_days_weeks_months_quarters() -> None:
    d = report.period("day", DAY)
    assert d.start == 1796144400.0 and d.end - d.start == 86400  # 2026-12-01 17:00 UTC
    w = report.period("week", "2026-12-06")  # a Sunday: the week began on Monday the 30th
    assert (w.first_day.isoformat(), w.last_day.isoformat()) == ("2026-11-30", "2026-12-06")
    m = report.period("month", "2026-12-31")
    assert (m.first_day.isoformat(), m.last_day.isoformat(), m.resolution) == (
        "2026-12-01", "2026-12-31", "d")
    q = report.period("quarter", "2026-11-15")
    assert (q.first_day.isoformat(), q.last_day.isoformat()) == ("2026-10-01", "2026-12-31")
    assert q.previous().first_day.isoformat() == "2026-07-01"  # 92 days just before
    c = report.period("custom", "2026-12-01", "2026-12-14")
    assert (c.days, c.resolution) == (14, "h")


@pytest.mark.parametrize("args, option", [
    (("fortnight", DAY), "--period"), (("day", "02/12/2026"), "--from"),
    (("custom", DAY), "--to"), (("week", DAY, DAY), "--to"),
    (("custom", "2025-01-01", "2026-12-01"), "--to")])
def test_bad_periods_name_the_option(args: tuple[str, ...], option: str) -> None:
    with pytest.raises(UsageError, match=f"^{option}: "):
        report.period(*args)


def test_the_figures_of_a_known_day(store: Store) -> None:
    sample_day(store, T0)
    r = report.build_report(store, report.period("day", DAY), sla=SLA)
    t = r["totals"]
    assert (t["opened"], t["by_severity"], t["incidents"]) == (
        3, {"critical": 1, "major": 1, "warning": 1, "info": 0}, 1)
    assert (t["acknowledged"], t["resolved"], t["mtta_s"], t["mttr_s"]) == (2, 2, 400.0, 1400.0)
    assert t["previous"] == {"opened": 1, "mtta_s": 1200.0, "mttr_s": 3600.0}
    assert t["trend_pct"] == {"opened": 200.0, "mtta_s": -66.7, "mttr_s": -61.1}
    assert {s: (x["within"], x["opened"]) for s, x in t["sla"].items()} == {
        "critical": (1, 1), "major": (1, 1), "warning": (0, 1), "info": (0, 0)}
    flooding = next(g for g in r["groups"] if g["group"] == "flooding")
    traffic = next(g for g in r["groups"] if g["group"] == "traffic")
    assert (flooding["opened"], flooding["incidents"], flooding["mtta_s"]) == (2, 1, 400.0)
    assert (traffic["opened"], traffic["incidents"], traffic["mtta_s"]) == (1, 1, None)
    lc = next(d for d in r["districts"] if d["district"] == "Lien Chieu")
    assert (lc["opened"], lc["acknowledged"], lc["incidents"]) == (1, 0, 0)
    assert [d["detector"] for d in r["noisiest_detectors"]] == ["cusum", "robust_z", "stuck"]
    assert {s["source"] for s in r["noisiest_sources"]} == {"flood-HC-01", "flood-HC-02",
                                                           "trf-LC-02"}
    kpis = {k["name"]: k for k in flooding["kpis"]}
    assert kpis["max_depth"]["points"] == [{"t": T0 + 3600, "v": 30.0}]   # max of districts
    assert kpis["flooded_points"]["points"] == [{"t": T0 + 3600, "v": 3.0}]  # sum
    assert (kpis["max_depth"]["min"], kpis["max_depth"]["max"]) == (12.0, 30.0)


def test_filters_narrow_every_figure(store: Store) -> None:
    sample_day(store, T0)
    p = report.period("day", DAY)
    r = report.build_report(store, p, sla=SLA, group="traffic")
    assert [g["group"] for g in r["groups"]] == ["traffic"]
    assert (r["totals"]["opened"], r["totals"]["incidents"]) == (1, 1)
    r = report.build_report(store, p, sla=SLA, district="Son Tra")
    assert (r["totals"]["opened"], r["totals"]["incidents"]) == (0, 0)
    assert [d["district"] for d in r["districts"]] == ["Son Tra"]
    with pytest.raises(ValidationError, match=r"^group: unknown group 'nope'"):
        report.build_report(store, p, sla=SLA, group="nope")


def test_a_scope_narrows_every_figure_and_lists_its_own_rows(store: Store) -> None:
    """A Lien Chieu report counts Lien Chieu only (city totals too), lists its district
    only, and says its scope; a group scope lists its groups only."""
    sample_day(store, T0)
    p = report.period("day", DAY)
    r = report.build_report(store, p, sla=SLA, scope=Scope(("Lien Chieu",)))
    assert (r["totals"]["opened"], r["totals"]["incidents"]) == (1, 0)
    assert [d["district"] for d in r["districts"]] == ["Lien Chieu"]
    assert {s["source"] for s in r["noisiest_sources"]} == {"trf-LC-02"}
    assert r["filters"]["scope"] == {"districts": ["Lien Chieu"], "groups": []}
    assert "district,Hai Chau" not in report.to_csv(r)
    r = report.build_report(store, p, sla=SLA, scope=Scope((), ("flooding",)))
    assert [g["group"] for g in r["groups"]] == ["flooding"]
    assert (r["totals"]["opened"], r["totals"]["incidents"]) == (2, 1)
    assert "scope" not in report.build_report(store, p, sla=SLA)["filters"]


def test_csv_and_html_carry_the_same_figures(store: Store) -> None:
    sample_day(store, T0)
    r = report.build_report(store, report.period("day", DAY), sla=SLA)
    rows = list(csv.DictReader(io.StringIO(report.to_csv(r))))
    city = rows[0]
    assert (city["kind"], city["opened"], city["mtta_s"], city["mttr_s"],
            city["ack_within_sla_warning_pct"]) == ("city", "3", "400.0", "1400.0", "0.0")
    assert {x["name"] for x in rows if x["kind"] == "detector"} == {"cusum", "robust_z",
                                                                   "stuck"}
    kpi = next(x for x in rows if x["name"] == "flooding/max_depth")
    assert (kpi["kpi_mean"], kpi["kpi_max"]) == ("30.000", "30.000")
    page = report.to_html(r)
    assert "<script" not in page and "@media print" in page and "<polyline" in page
    assert "6.7 min (-67 %)" in page  # city MTTA and its trend
    assert json.loads(report.to_json(r)) == r


def test_ioc_report_writes_each_format_and_refuses_bad_arguments(
        database_url: str) -> None:
    s = Store(database_url)
    s.migrate()
    sample_day(s, T0)
    s.close()
    env = {"IOC_DATABASE_URL": database_url}
    run = CliRunner().invoke
    got = run(cli, ["report", "--from", DAY, "--period", "day", "--format", "json"], env=env)
    assert got.exit_code == 0, got.output
    assert json.loads(got.output)["totals"]["opened"] == 3
    got = run(cli, ["report", "--from", DAY, "--to", DAY, "--format", "csv",
                    "--group", "flooding"], env=env)
    assert got.exit_code == 0 and got.output.splitlines()[1].startswith("city,all,2,")
    for args, message in (
            (["--from", DAY, "--period", "day", "--format", "pdf"], "--format: must be"),
            (["--from", DAY, "--period", "day", "--district", "Da Lat"],
             "--district: unknown district 'Da Lat'"),
            (["--from", "tomorrow", "--period", "day"], "--from: expected a date"),
            (["--from", DAY, "--period", "day", "--output", "/nonexistent/dir/r.json"],
             "--output: cannot write '/nonexistent/dir/r.json'")):
        done = subprocess.run([str(IOC), "report", *args], capture_output=True, text=True,
                              env={**os.environ, **env}, timeout=60)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.startswith("ioc: error: ") and message in done.stderr
        assert len(done.stderr.splitlines()) == 1, done.stderr


def test_ioc_report_without_an_archive_says_where_it_looked(tmp_path: Path) -> None:
    """No IOC_DATABASE_URL and no archive.db under IOC_DATA_DIR: a one-line error naming the
    directory, and nothing created there."""
    env = {k: v for k, v in os.environ.items() if k != "IOC_DATABASE_URL"}
    done = subprocess.run([str(IOC), "report", "--from", DAY, "--period", "day"],
                          capture_output=True, text=True, timeout=60,
                          env={**env, "IOC_DATA_DIR": str(tmp_path / "none")})
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(f"ioc: error: IOC_DATA_DIR: no archive at {tmp_path}/none")
    assert not (tmp_path / "none").exists()


def test_a_bad_sla_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"IOC_ACK_SLA_S: .*warning"):
        Settings.from_env({"IOC_ACK_SLA_S": "critical=300,major=900,info=60"})
    with pytest.raises(ConfigError, match="IOC_ACK_SLA_S: 'urgent=5' is not severity=seconds"):
        Settings.from_env({"IOC_ACK_SLA_S": "urgent=5"})


REPORT_HEADINGS = ("rep.groups", "rep.districts", "rep.centres", "rep.noisiest", "rep.indicators")


@pytest.mark.parametrize("lang, other", [("vi", "en"), ("en", "vi")])
def test_ioc_report_html_headings_are_in_the_language_asked_for(
        lang: str, other: str, tmp_path: Path) -> None:
    """`ioc report --format html --lang vi|en` through the command line: the page, its title,
    section headings and names in that language and none of the other's (vi the default)."""
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    s = Store(url)
    s.migrate()
    sample_day(s, T0)
    s.close()
    out = tmp_path / f"report-{lang}.html"
    run = CliRunner().invoke
    args = ["report", "--from", DAY, "--period", "day", "--format", "html"]
    got = run(cli, [*args, "--lang", lang, "--output", str(out)],
              env={"IOC_DATABASE_URL": url})
    assert got.exit_code == 0, got.output
    page = out.read_text(encoding="utf-8")
    assert f"<html lang={lang}>" in page
    heading = i18n.t(lang, "rep.heading", label="")
    assert html.escape(heading) in page, heading
    for key in REPORT_HEADINGS:
        assert html.escape(i18n.t(lang, key)) in page, key
        assert f">{html.escape(i18n.t(other, key))}<" not in page, key
    assert html.escape(i18n.t(other, "rep.heading", label="")) not in page
    names = {"vi": ("Hải Châu", "Lượng mưa &amp; ngập úng đô thị"),
             "en": ("Hai Chau", "Rainfall &amp; urban flooding")}
    assert all(n in page for n in names[lang]), names[lang]
    if lang == "vi":  # the city's language unless asked: the same page without --lang
        plain = run(cli, args, env={"IOC_DATABASE_URL": url})
        assert plain.exit_code == 0 and "<html lang=vi>" in plain.output
        assert html.escape(heading) in plain.output
