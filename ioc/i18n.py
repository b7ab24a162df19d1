"""Messages in Vietnamese (the city's default) and English: one catalog per language.

A catalog is ``ioc/locale/<lang>.json`` (flat ``key -> text`` with ``{name}`` placeholders)
completed with the names the kernel catalog holds as data (:mod:`ioc.catalog_data`,
:mod:`ioc.districts`): ``group.<slug>``, ``district.<name>``, ``metric.<name>``,
``kpi.<group>.<kpi>`` (also as ``metric.<group>.<kpi>``, for titles that name a KPI where
they name a metric) and ``kind.<kind>``. The pages load the same catalogs (``/i18n/<lang>``)
and render with the same parameter rules as :func:`render` (``common.js``), so a title reads
the same in the browser as here. Dates and numbers go through Babel.

Parameters of a message (:func:`render`): ``metric``, ``district``, ``group`` and ``source``
are names to look up; ``unit`` is written after a number (``%`` sticks to it); other numbers
are written in the language's way (:func:`number`); text goes in as it is.

>>> t("en", "status.starting"), t("vi", "status.starting")
('Starting', 'Đang khởi động')
>>> render("vi", "title.stuck", {"metric": "flood_depth", "value": 2.5, "unit": "cm",
...                              "source": "flood-HC-01", "district": "Hai Chau"})
'Độ sâu ngập đứng yên ở 2,5 cm tại trạm đo ngập 01, Hải Châu'
>>> number(1250.0, "en"), number(1250.0, "vi"), number(0.35, "vi")
('1,250', '1.250', '0,35')
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.dates import format_datetime
from babel.numbers import format_decimal

from ioc import catalog
from ioc.catalog_data import GROUP_NAMES_VI, KIND_NAMES, KPI_NAMES_VI, METRIC_NAMES

__all__ = ["COOKIE", "DEFAULT", "LANGUAGES", "NAME_PARAMS", "catalog_of", "datetime_text",
           "fill", "from_cookie", "language", "messages", "number", "render", "source_name",
           "t"]

LANGUAGES: tuple[str, ...] = ("vi", "en")
DEFAULT = "vi"
COOKIE = "ioc_lang"  # the language a browser chose (the pages also keep it in localStorage)
NAME_PARAMS = ("metric", "district", "group", "source")
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
_BABEL = {"vi": "vi_VN", "en": "en_GB"}
CITY_TZ = "Asia/Ho_Chi_Minh"


def language(value: str | None) -> str:
    """A supported language code from ``value`` (``"en-GB"`` is English), else the default.

    >>> language("en-GB"), language("vi"), language(None), language("fr")
    ('en', 'vi', 'vi', 'vi')
    """
    code = (value or "").strip().lower()[:2]
    return code if code in LANGUAGES else DEFAULT


def from_cookie(header: str | None) -> str:
    """The language a ``Cookie`` header names (:data:`COOKIE`), else the default.

    >>> from_cookie("a=1; ioc_lang=en"), from_cookie("a=1"), from_cookie(None)
    ('en', 'vi', 'vi')
    """
    for part in (header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return language(value)
    return DEFAULT


@functools.cache
def _file(lang: str) -> dict[str, str]:
    data = json.loads((LOCALE_DIR / f"{lang}.json").read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


@functools.cache
def _names(lang: str) -> dict[str, str]:
    vi = lang == "vi"
    out: dict[str, str] = {}
    for g in catalog.CATALOG:
        out[f"group.{g.slug}"] = GROUP_NAMES_VI[g.slug] if vi else g.name
        for k in g.kpis:
            out[f"kpi.{g.slug}.{k.name}"] = KPI_NAMES_VI[f"{g.slug}/{k.name}"] if vi else k.label
            # a KPI as a feature a title names (``{metric}`` = "<group>.<kpi>"): the same name
            out[f"metric.{g.slug}.{k.name}"] = out[f"kpi.{g.slug}.{k.name}"]
        for kind in g.source_kinds:
            out[f"kind.{kind.name}"] = KIND_NAMES[kind.name][vi]
    for name, (en, vi_name) in METRIC_NAMES.items():
        out[f"metric.{name}"] = vi_name if vi else en
    for d in catalog.DISTRICTS:
        out[f"district.{d.name}"] = d.name_vi if vi else d.name
    return out


@functools.cache
def messages(lang: str) -> dict[str, str]:
    """Every message of ``lang``: its catalog file and the catalog's names."""
    return {**_file(language(lang)), **_names(language(lang))}


def catalog_of(lang: str) -> dict[str, Any]:
    """What ``/i18n/<lang>`` serves: the language, its Babel locale, its messages and the
    source kind of each source id prefix (to name a source as :func:`source_name` does)."""
    lang = language(lang)
    return {"lang": lang, "locale": _BABEL[lang].replace("_", "-"), "messages": messages(lang),
            "kinds": _kinds_by_prefix()}


def fill(text: str, params: Mapping[str, str]) -> str:
    """``text`` with each ``{name}`` replaced by ``params[name]`` (unknown ones kept).

    >>> fill("{a} and {b}", {"a": "x"})
    'x and {b}'
    """
    for name, value in params.items():
        text = text.replace("{" + name + "}", value)
    return text


def t(lang: str, key: str, **params: Any) -> str:
    """The message ``key`` of ``lang`` filled with ``params`` (English, else the key itself,
    when ``lang`` lacks it; the catalog test keeps that from happening)."""
    text = messages(lang).get(key) or messages("en").get(key) or key
    return fill(text, {k: _text(lang, k, v) for k, v in params.items()})


def number(x: float, lang: str) -> str:
    """A number as a person reads it: 34, 5.2, 0.35, 1,250 (``?`` if not finite), with the
    language's separators.

    >>> number(34.0, "en"), number(5.25, "en"), number(-0.001, "en"), number(float("nan"), "vi")
    ('34', '5.25', '0', '?')
    """
    if not (isinstance(x, int | float) and math.isfinite(x)):
        return "?"
    ax = abs(x)
    digits = 0 if ax >= 100 else 1 if ax >= 10 else 2
    rounded = round(float(x), digits)
    if rounded == 0:
        rounded = 0.0
    return str(format_decimal(rounded, format="#,##0.##", locale=_BABEL[language(lang)]))


def datetime_text(epoch: float, lang: str, fmt: str = "short") -> str:
    """``epoch`` as a date and time in Da Nang in the language's way.

    >>> jan = 1767225600.0  # 2026-01-01 00:00 UTC
    >>> datetime_text(jan, "en", "yyyy-MM-dd HH:mm"), datetime_text(jan, "vi", "dd/MM/yyyy HH:mm")
    ('2026-01-01 07:00', '01/01/2026 07:00')
    """
    when = datetime.fromtimestamp(epoch, tz=UTC)
    return str(format_datetime(when, fmt, tzinfo=_tz(), locale=_BABEL[language(lang)]))


@functools.cache
def _tz() -> Any:
    from babel.dates import get_timezone

    return get_timezone(CITY_TZ)


@functools.cache
def _kinds_by_prefix() -> dict[str, str]:
    return {k.prefix: k.name for g in catalog.CATALOG for k in g.source_kinds}


def source_name(source: str, lang: str) -> str:
    """A source as people name it: its kind and number (the id when it is not a catalog id).

    >>> source_name("flood-HC-02", "en"), source_name("flood-HC-02", "vi"), source_name("x", "en")
    ('flood tower 02', 'trạm đo ngập 02', 'x')
    """
    prefix, _, rest = source.partition("-")
    kind = _kinds_by_prefix().get(prefix)
    _code, _, num = rest.rpartition("-")
    if kind is None or not num:
        return source
    return f"{messages(lang)[f'kind.{kind}']} {num}"


def _text(lang: str, name: str, value: Any) -> str:
    """One parameter written for ``lang`` (the rules in the module docstring)."""
    if name == "source":
        return source_name(str(value), lang)
    if name in NAME_PARAMS:
        fallback = str(value).replace("_", " ").capitalize() if name == "metric" else str(value)
        return messages(lang).get(f"{name}.{value}", fallback)
    if name == "unit":
        return "" if not value else str(value) if value == "%" else f" {value}"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return number(float(value), lang)


def render(lang: str, key: str, params: Mapping[str, Any]) -> str:
    """The message ``key`` of ``lang`` with ``params`` written by the rules above."""
    return t(lang, key, **params)
