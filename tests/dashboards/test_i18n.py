"""The message catalogs: the same keys in every language, every key a page uses present."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dashboards.status import STATUSES
from ioc import catalog, i18n
from ioc.events import SEVERITIES

STATIC = Path(__file__).resolve().parents[2] / "dashboards" / "static"
# data-i18n="key", data-i18n-title="key" ... in the pages; t("key" / IOC.t("key" in scripts
USES = (re.compile(r'data-i18n(?:-[a-z-]+)?="([a-z0-9_.]+)"'),
        re.compile(r'\bt\(\s*"([a-z0-9_.]+)"'))


# keys the scripts build from a prefix and a value ("status." + status): every value they take
PREFIXED = {
    "conn.": ("connecting", "authenticating", "connected", "reconnecting", "unauthorized",
              "offline"),
    "status.": (*STATUSES, "pending"),
    "severity.": SEVERITIES,
    "alert.status.": ("firing", "acknowledged", "silenced", "resolved"),
    "trail.": ("acknowledged", "silenced", "resolved", "unsilenced", "firing"),
    "kind.": tuple(k.name for g in catalog.CATALOG for k in g.source_kinds),
    "fb.": ("label", "none", "real", "false_alarm", "sensor_fault", "planned", "period",
            "detector", "metric", "labelled", "precision", "empty", "heading"),
}


def _file(lang: str) -> dict[str, str]:
    raw = json.loads((i18n.LOCALE_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def test_every_language_has_the_same_keys() -> None:
    """A key missing in either catalog fails here, naming it."""
    keys = {lang: set(_file(lang)) for lang in i18n.LANGUAGES}
    for lang in i18n.LANGUAGES:
        for other in i18n.LANGUAGES:
            assert not keys[other] - keys[lang], f"{lang}.json lacks {keys[other] - keys[lang]}"


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_no_empty_message_and_placeholders_match(lang: str) -> None:
    en = _file("en")
    for key, text in _file(lang).items():
        assert text.strip(), key
        assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", en[key])), key


def test_every_key_the_pages_use_is_in_the_catalogs() -> None:
    used: dict[str, set[str]] = {}
    for path in sorted(STATIC.glob("*.html")) + sorted(STATIC.glob("*.js")):
        text = path.read_text(encoding="utf-8")
        for pattern in USES:
            for key in pattern.findall(text):
                used.setdefault(key, set()).add(path.name)
    assert len(used) > 100  # the pages do use the catalogs
    for prefix in [k for k in used if k.endswith(".")]:
        assert prefix in PREFIXED, f"{prefix!r} + a value: list its values in PREFIXED"
        for value in PREFIXED[prefix]:
            used.setdefault(prefix + value, set()).update(used[prefix])
        del used[prefix]
    for lang in i18n.LANGUAGES:
        missing = {k: sorted(v) for k, v in used.items() if k not in i18n.messages(lang)}
        assert not missing, f"{lang}: {missing}"


def test_names_of_every_group_district_metric_and_kpi_in_both_languages() -> None:
    vi, en = i18n.messages("vi"), i18n.messages("en")
    assert vi["district.Ngu Hanh Son"] == "Ngũ Hành Sơn"
    assert vi["district.Hoang Sa"] == "Hoàng Sa"
    for g in catalog.CATALOG:
        assert vi[f"group.{g.slug}"] and en[f"group.{g.slug}"] == g.name
        for m in g.metrics:
            assert vi[f"metric.{m.name}"] and en[f"metric.{m.name}"]
        for k in g.kpis:
            assert vi[f"kpi.{g.slug}.{k.name}"] and en[f"kpi.{g.slug}.{k.name}"] == k.label
    for d in catalog.DISTRICTS:
        assert vi[f"district.{d.name}"] != "" and en[f"district.{d.name}"] == d.name


def test_numbers_and_dates_in_the_chosen_locale() -> None:
    assert (i18n.number(1250.5, "en"), i18n.number(1250.5, "vi")) == ("1,250", "1.250")
    assert (i18n.number(2.25, "en"), i18n.number(2.25, "vi")) == ("2.25", "2,25")
    when = 1_767_225_600.0 + 13 * 3600 + 5 * 60  # 2026-01-01 20:05 in Da Nang
    assert "20:05" in i18n.datetime_text(when, "vi") and "20:05" in i18n.datetime_text(when, "en")
    assert i18n.datetime_text(when, "vi") != i18n.datetime_text(when, "en")


def test_the_printable_report_in_vietnamese_and_english(tmp_path: Path) -> None:
    """`ioc report --format html` headings and names come from the catalogs."""
    from archive import report
    from archive.sample import sample_day
    from archive.store import Store
    from ioc.settings import Settings

    store = Store(f"sqlite:///{tmp_path / 'archive.db'}")
    store.migrate()
    day = report.period("day", "2026-12-02")
    sample_day(store, day.start)
    r = report.build_report(store, day, sla=Settings().ack_sla_s)
    store.close()
    vi, en = report.to_html(r, "vi"), report.to_html(r, "en")
    assert "<html lang=vi>" in vi and "Báo cáo điều hành" in vi and "Hải Châu" in vi
    assert "Lượng mưa &amp; ngập úng đô thị" in vi and "phút" in vi
    assert "<html lang=en>" in en and "Operations report" in en and "Operation centres" in en
    assert "Rainfall &amp; urban flooding" in en
    for page in (vi, en):
        assert "{" not in page.split("</style>")[1]  # no placeholder left unfilled
