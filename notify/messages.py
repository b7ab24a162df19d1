"""What a notification says, per channel and language: an email (plain text and HTML, in
Vietnamese or English, with each alert's evidence and a link to it on the wall), an
Alertmanager webhook payload (version 4) and one SMS.

>>> from notify.items import Item
>>> a = Item(id="robust_z:flooding:rain-HC-01:rainfall", kind="alert", version=1,
...          status="firing", severity="major", category="city", group="flooding",
...          groups=["flooding"], district="Hai Chau", detector="robust_z",
...          source="rain-HC-01", metric="rainfall", title="Rainfall high", first_seen=0.0,
...          updated_at=0.0, value=42.0, baseline=3.0, threshold=20.0)
>>> sms([a], "firing", "en", unicode=False)
'[IOC MAJOR] Rainfall high - Hai Chau, flooding (42 vs 3)'
>>> sms([a], "firing", "vi", unicode=False)
'[IOC MAJOR] Rainfall high - Hai Chau, flooding (42 vs 3)'
>>> len(sms([a] * 9, "firing", "vi", unicode=False)) <= 160
True
>>> wall_link("http://wall:8080", a)
'http://wall:8080/?group=flooding&district=Hai+Chau&alert=robust_z%3Aflooding%3Arain-HC-01%3Arainfall'
"""

from __future__ import annotations

import functools
import hashlib
import html
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from ioc import i18n
from notify.items import DA_NANG, Item

__all__ = ["alertmanager_payload", "email", "fit_sms", "sms", "title", "wall_link"]

WORDS: dict[str, dict[str, str]] = {
    "en": {"firing": "FIRING", "resolved": "RESOLVED", "digest": "Daily digest",
           "alerts": "alerts", "district": "District", "group": "Group",
           "source": "Source", "value": "Value", "baseline": "Baseline",
           "threshold": "Threshold", "score": "Score", "detector": "Detector",
           "since": "Since", "open": "Open on the wall", "severity": "Severity",
           "step": "Escalation step", "ack": "Acknowledge it on the wall to stop the "
           "escalation.", "footer": "Sent by ioc-monitor's notifier."},
    "vi": {"firing": "ĐANG CẢNH BÁO", "resolved": "ĐÃ XỬ LÝ", "digest": "Báo cáo hằng ngày",
           "alerts": "cảnh báo", "district": "Quận", "group": "Nhóm dịch vụ",
           "source": "Nguồn", "value": "Giá trị", "baseline": "Mức nền",
           "threshold": "Ngưỡng", "score": "Điểm", "detector": "Bộ phát hiện",
           "since": "Từ lúc", "open": "Mở trên màn hình giám sát", "severity": "Mức độ",
           "step": "Bước leo thang", "ack": "Xác nhận trên màn hình giám sát để dừng leo "
           "thang.", "footer": "Gửi bởi bộ thông báo của ioc-monitor."},
}
SEVERITY_WORDS = {"vi": {"info": "thông tin", "warning": "cảnh báo", "major": "nghiêm trọng",
                         "critical": "khẩn cấp"}}
_GSM = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
           "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM_EXT = set("^{}\\[~]|€")  # two septets each


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, DA_NANG).strftime("%Y-%m-%d %H:%M")


@functools.lru_cache(maxsize=4096)
def _quoted(text: str) -> str:
    return quote_plus(text)


def wall_link(wall_url: str, item: Item) -> str:
    """The wall filtered to the item's group and district, the item named (``alert=``)."""
    return (f"{wall_url.rstrip('/')}/?group={_quoted(item.group)}&district="
            f"{_quoted(item.district)}&{item.kind}={quote_plus(item.id)}")


def title(item: Item, lang: str) -> str:
    """The item's title in ``lang`` (from its parts; its English ``title`` without them, or
    when the catalogs do not know the parts).

    >>> from notify.items import Item
    >>> i = Item(id="a", kind="alert", version=1, status="firing", severity="major",
    ...          category="city", group="flooding", groups=["flooding"], district="Hai Chau",
    ...          detector="stuck", source="flood-HC-01", metric="flood_depth",
    ...          title="flood_depth stuck", first_seen=0.0, updated_at=0.0,
    ...          title_parts={"key": "title.stuck", "params": {"metric": "flood_depth",
    ...                       "value": 2.5, "unit": "cm", "source": "flood-HC-01",
    ...                       "district": "Hai Chau"}})
    >>> title(i, "vi")
    'Độ sâu ngập đứng yên ở 2,5 cm tại trạm đo ngập 01, Hải Châu'
    >>> import msgspec
    >>> title(msgspec.structs.replace(i, title_parts=None), "vi")
    'flood_depth stuck'
    """
    parts = item.title_parts
    if not parts or not isinstance(parts.get("key"), str):
        return item.title
    try:
        return i18n.render(i18n.language(lang), parts["key"], parts.get("params") or {})
    except (KeyError, ValueError, TypeError, IndexError):
        return item.title


def _severity(item: Item, lang: str) -> str:
    return SEVERITY_WORDS.get(lang, {}).get(item.severity, item.severity)


def subject(items: Sequence[Item], status: str, lang: str, step: int | None = None) -> str:
    w = WORDS[lang]
    first = items[0]
    more = f" (+{len(items) - 1} {w['alerts']})" if len(items) > 1 else ""
    tag = f" [{w['step']} {step + 1}]" if step is not None else ""
    return (f"[IOC {w[status]}] {_severity(first, lang)}: {title(first, lang)} - {first.district}"
            f"{more}{tag}")


def email(items: Sequence[Item], status: str, lang: str, wall_url: str,
          step: int | None = None) -> dict[str, str]:
    """``subject``, ``text`` and ``html`` of a notification email."""
    w = WORDS[lang]
    text_parts, html_parts = [], []
    for i in items:
        rows = [(w["severity"], _severity(i, lang)), (w["district"], i.district),
                (w["group"], ", ".join(i.groups)), (w["source"], f"{i.source} {i.metric}"),
                (w["value"], _num(i.value)), (w["baseline"], _num(i.baseline)),
                (w["threshold"], _num(i.threshold)), (w["score"], _num(i.score)),
                (w["detector"], i.detector), (w["since"], _when(i.first_seen))]
        link = wall_link(wall_url, i)
        state = w["resolved"] if i.status == "resolved" else w["firing"]
        name = title(i, lang)
        text_parts.append(f"{state}: {name}\n" + "\n".join(
            f"  {k}: {v}" for k, v in rows) + f"\n  {w['open']}: {link}\n")
        cells = "".join(f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td>"
                        f"</tr>" for k, v in rows)
        html_parts.append(f"<h3>{html.escape(state)}: {html.escape(name)}</h3>"
                          f"<table>{cells}</table><p><a href=\"{html.escape(link)}\">"
                          f"{html.escape(w['open'])}</a></p>")
    tail = f"\n{w['ack']}\n" if step is not None else ""
    text = "\n".join(text_parts) + tail + f"\n-- \n{w['footer']}\n"
    body = (f"<html lang=\"{lang}\"><body>{''.join(html_parts)}"
            + (f"<p><b>{html.escape(w['ack'])}</b></p>" if step is not None else "")
            + f"<hr><small>{html.escape(w['footer'])}</small></body></html>")
    return {"subject": subject(items, status, lang, step), "text": text, "html": body}


def unaccented(text: str) -> str:
    """Vietnamese without its diacritics (how SMS in Vietnam are usually sent).

    >>> unaccented("Đà Nẵng: ngập lụt")
    'Da Nang: ngap lut'
    """
    text = text.replace("Đ", "D").replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", text)
                   if unicodedata.category(c) != "Mn")


def fit_sms(text: str, *, unicode: bool) -> str:
    """``text`` cut to one SMS: 160 GSM-7 characters, or 70 UCS-2 ones when ``unicode`` and
    it has characters outside GSM-7 (without ``unicode`` the diacritics are dropped)."""
    if not unicode:
        text = "".join(c if c in _GSM or c in _GSM_EXT else "?" for c in unaccented(text))
    if not all(c in _GSM or c in _GSM_EXT for c in text):
        return text if len(text) <= 70 else text[:68].rstrip() + ".."
    size = 0
    for n, c in enumerate(text):
        size += 2 if c in _GSM_EXT else 1
        if size > 160:
            return text[:n - 2].rstrip() + ".."
    return text


def sms(items: Sequence[Item], status: str, lang: str, *, unicode: bool) -> str:
    first = items[0]
    sev = first.severity.upper() if status == "firing" else WORDS["en"]["resolved"]
    more = f" +{len(items) - 1}" if len(items) > 1 else ""
    evidence = f" ({_num(first.value)} vs {_num(first.baseline)})" \
        if first.value is not None else ""
    text = (f"[IOC {sev}] {title(first, lang)} - {first.district}, {', '.join(first.groups)}"
            f"{evidence}{more}")
    return fit_sms(text, unicode=unicode)


def _rfc3339(ts: float | None) -> str:
    if ts is None:
        return "0001-01-01T00:00:00Z"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def alertmanager_payload(items: Sequence[Item], *, status: str, receiver: str,
                         group_key: str, group_labels: Mapping[str, str], wall_url: str,
                         resolved_at: float | None = None, lang: str = "vi") -> dict[str, Any]:
    """Alertmanager's webhook payload, version 4, for ``items`` (summaries in ``lang``)."""
    alerts: list[dict[str, Any]] = []
    for i in items:
        labels = {k: v for k, v in i.labels().items() if v and k != "status"}
        alerts.append({
            "status": "resolved" if i.status == "resolved" else "firing",
            "labels": labels,
            "annotations": {"summary": title(i, lang), "value": _num(i.value),
                            "baseline": _num(i.baseline), "threshold": _num(i.threshold),
                            "score": _num(i.score)},
            "startsAt": _rfc3339(i.first_seen),
            "endsAt": _rfc3339(i.updated_at if i.status == "resolved" else None),
            "generatorURL": wall_link(wall_url, i),
            "fingerprint": hashlib.sha256(i.id.encode()).hexdigest()[:16]})
    common = dict(alerts[0]["labels"]) if alerts else {}
    for a in alerts[1:]:
        common = {k: v for k, v in common.items() if a["labels"].get(k) == v}
    annotations = dict(alerts[0]["annotations"]) if alerts else {}
    for a in alerts[1:]:
        annotations = {k: v for k, v in annotations.items() if a["annotations"].get(k) == v}
    return {"version": "4", "groupKey": group_key, "truncatedAlerts": 0, "status": status,
            "receiver": receiver, "groupLabels": dict(group_labels), "commonLabels": common,
            "commonAnnotations": annotations, "externalURL": wall_url, "alerts": alerts}
