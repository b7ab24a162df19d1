"""The message catalogs: the same keys in every language, every key a page uses present."""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from archive.accounts import KEY_ROLES
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
    "role.": KEY_ROLES,
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


# The sign-in code's modules, and where their calls name the message the login page shows:
# page(..., message=...) and refuse(request, reason, status, message).
SIGN_IN_MODULES = ("dashboards.signin", "dashboards.loginpage", "dashboards.signout")


def _shown(call: ast.Call, module: Any) -> list[str]:
    """The message keys a page()/refuse() call can show (fails on text built in place)."""
    given = [k.value for k in call.keywords if k.arg == "message"]
    if not given and getattr(call.func, "attr", "") == "refuse" and len(call.args) >= 4:
        given = [call.args[3]]
    out: list[str] = []
    todo = list(given)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.IfExp):
            todo += [node.body, node.orelse]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append(node.value)
        elif isinstance(node, ast.Name) and isinstance(getattr(module, node.id, None), str):
            out.append(getattr(module, node.id))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "get" and isinstance(node.func.value, ast.Name)
              and isinstance(getattr(module, node.func.value.id, None), dict)):
            out += list(getattr(module, node.func.value.id).values())  # NOTICES.get(m, "")
            todo += node.args[1:]
        else:
            raise AssertionError(f"{module.__name__}:{node.lineno}: a message the catalog "
                                 f"test cannot follow ({ast.dump(node)[:80]}): name a "
                                 "login.msg.* key")
    return out


def test_every_message_the_sign_in_code_shows_is_a_catalog_key_in_both_languages() -> None:
    """The login page's messages are catalog keys (never English written in place: the
    reader would get it untranslated), each present in every language."""
    shown: dict[str, str] = {}
    for name in SIGN_IN_MODULES:
        module = importlib.import_module(name)
        tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
        passing_on = {id(n) for f in ast.walk(tree)  # refuse() hands its message to page()
                      if isinstance(f, ast.FunctionDef) and f.name in ("page", "refuse")
                      for n in ast.walk(f)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("page", "refuse") and id(node) not in passing_on):
                for key in _shown(node, module):
                    shown[key] = f"{name}:{node.lineno}"
    shown.pop("", None)  # no message
    assert len(shown) >= 10, shown
    for key, where in shown.items():
        assert key.startswith("login.msg."), f"{where}: {key!r} is not a login.msg.* key"
        for lang in i18n.LANGUAGES:
            assert key in _file(lang), f"{where}: {key} missing in {lang}.json"


@pytest.mark.parametrize("lang, minutes, says", [
    ("vi", 15, "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau 15 phút."),
    ("en", 15, "Too many failed sign-ins. Try again in 15 minutes."),
    ("en", 1, "Too many failed sign-ins. Try again in 1 minute.")])
def test_the_throttle_message_says_the_wait_in_the_readers_language(
        lang: str, minutes: int, says: str) -> None:
    from dashboards.i18n import said
    from dashboards.signin import THROTTLED, THROTTLED_ONE

    assert said(THROTTLED if minutes > 1 else THROTTLED_ONE, lang, {"minutes": minutes}) == says
    assert said("login.msg.expired", "vi") == "Biểu mẫu đã hết hạn; vui lòng đăng nhập lại."
