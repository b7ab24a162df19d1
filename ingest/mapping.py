"""How an MQTT message becomes readings: the ``[[mapping]]`` tables of the ingest file. Pure.

A mapping names a topic pattern (:mod:`ingest.topics`) and how to fill each field of a
:class:`~ioc.events.Reading`. A field is a **template** (a constant, or text with
``{capture}`` s of the topic) or a **JSON path** into the payload: ``$`` (the whole payload),
``$.a.b`` or ``$.list.0.x``. ``value`` is always a path; ``ts`` is a path or absent (then the
arrival time); ``lat``, ``lon`` and ``unit`` paths are optional (a message without them makes
readings without them). A payload that is not JSON is taken as a plain number when a path is ``$``
(``21.5`` or ``"21.5"``). One mapping may make several readings from one message: one per
``[[mapping.metrics]]`` entry. A captured district may be written the catalog's way
(``Hai Chau``), as a slug (``hai-chau``, ``hai_chau``) or as its code (``HC``).

>>> m = Mapping.from_table({"topic": "danang/rain/{district}/{source}", "group": "flooding",
...     "source": "{source}", "district": "{district}", "ts": "$.t",
...     "metrics": [{"metric": "rainfall", "value": "$.mm"}]})
>>> out = m.readings("danang/rain/hai-chau/rain-7", b'{"mm": 3.5, "t": 1795410000}', 0.0)
>>> [(r.source, r.district, r.value, r.ts) for r in out.readings], out.errors
([('rain-7', 'Hai Chau', 3.5, 1795410000.0)], [])
>>> m.readings("danang/rain/hai-chau/rain-7", b'{"t": 1795410000}', 0.0).errors
[('rainfall.value', 'no field $.mm in the payload')]
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

from ingest.topics import TopicPattern
from ioc import catalog
from ioc.errors import ConfigError, ValidationError
from ioc.events import MAX_MESSAGE_BYTES, Reading

_CAPTURE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_FIELDS = {"topic", "group", "source", "district", "ts", "ts_unit", "lat", "lon", "metrics",
           "unit", "districts"}
_METRIC_FIELDS = {"metric", "value", "unit", "source"}
_MISSING = object()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


DISTRICT_ALIASES: dict[str, str] = {
    **{_slug(d.name): d.name for d in catalog.DISTRICTS},
    **{_slug(d.code): d.name for d in catalog.DISTRICTS}}


def district_name(text: str) -> str:
    """The catalog's name of a district written as its name, a slug or its code (else
    ``text`` unchanged, which the reading's validation then refuses).

    >>> district_name("hai-chau"), district_name("NHS"), district_name("Atlantis")
    ('Hai Chau', 'Ngu Hanh Son', 'Atlantis')
    """
    return DISTRICT_ALIASES.get(_slug(text), text)


class Field:
    """A template (``"{source}"``, ``"tower-{n}"``, ``"flooding"``) or a JSON path (``$.a.b``).

    >>> Field("x", "$.a.1").get({}, {"a": [0, 7]})
    7
    >>> Field("x", "tw-{n}", ("n",)).get({"n": "3"}, None)
    'tw-3'
    """

    def __init__(self, name: str, spec: Any, captures: tuple[str, ...] = ()) -> None:
        if not isinstance(spec, str) or not spec:
            raise ConfigError(f"{name}: expected a non-empty string, got {spec!r:.60}")
        self.name, self.spec = name, spec
        self.path: tuple[str, ...] | None = None
        if spec == "$" or spec.startswith("$."):
            self.path = tuple(p for p in spec[2:].split(".")) if spec != "$" else ()
            if any(not p for p in self.path):
                raise ConfigError(f"{name}: bad JSON path {spec!r} (use $, $.a or $.a.0.b)")
        else:
            unknown = [n for n in _CAPTURE.findall(spec) if n not in captures]
            if unknown:
                raise ConfigError(f"{name}: {{{unknown[0]}}} is not a capture of the topic "
                                  f"(captures: {', '.join(captures) or 'none'})")

    def get(self, captures: dict[str, str], payload: Any, *, required: bool = True) -> Any:
        """The field's value; ValidationError when a path finds nothing (None instead when
        not ``required``)."""
        if self.path is None:
            return _CAPTURE.sub(lambda m: captures[m.group(1)], self.spec)
        node = payload
        for part in self.path:
            if isinstance(node, dict):
                node = node.get(part, _MISSING)
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                node = _MISSING
            if node is _MISSING:
                break
        if node is _MISSING or node is None:
            if not required:
                return None
            raise ValidationError(self.name.rsplit(".", 1)[-1],
                                  f"no field {self.spec} in the payload")
        return node


def _number(name: str, raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ValidationError(name, f"expected a number, got {type(raw).__name__}")
    try:
        got = float(raw)
    except ValueError:
        raise ValidationError(name, f"expected a number, got {str(raw)[:40]!r}") from None
    return got


@dataclass(frozen=True)
class MetricRule:
    """One reading made from a message: its metric, value path and unit."""

    metric: Field
    value: Field
    unit: Field | None = None
    source: Field | None = None


@dataclass
class Outcome:
    """The readings of one message and, for each one that could not be made, why."""

    readings: list[Reading] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (field, reason)


def _payload(raw: bytes) -> Any:
    """The payload as JSON, else (a plain number sent as text) the stripped text."""
    if len(raw) > MAX_MESSAGE_BYTES:
        raise ValidationError("$", f"payload is {len(raw)} bytes, over {MAX_MESSAGE_BYTES}")
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError:
        try:
            return raw.decode().strip()
        except UnicodeDecodeError:
            raise ValidationError("$", "payload is neither JSON nor UTF-8 text") from None


class Mapping:
    """One ``[[mapping]]`` table: a topic pattern and how to build readings."""

    def __init__(self, pattern: TopicPattern, *, group: Field, source: Field,
                 district: Field, metrics: list[MetricRule], ts: Field | None = None,
                 ts_unit: str = "s", lat: Field | None = None, lon: Field | None = None,
                 districts: dict[str, str] | None = None) -> None:
        self.pattern, self.group, self.source, self.district = pattern, group, source, district
        self.metrics, self.ts, self.ts_scale = metrics, ts, 1000.0 if ts_unit == "ms" else 1.0
        self.lat, self.lon, self.districts = lat, lon, districts or {}

    @classmethod
    def from_table(cls, table: dict[str, Any], where: str = "mapping") -> Mapping:
        """Build from a TOML table; ConfigError naming ``where`` and the field."""
        unknown = sorted(set(table) - _FIELDS)
        if unknown:
            raise ConfigError(f"{where}: unknown field {unknown[0]!r} (fields: "
                              f"{', '.join(sorted(_FIELDS))})")
        for need in ("topic", "group", "source", "district", "metrics"):
            if need not in table:
                raise ConfigError(f"{where}: `{need}` is required")
        try:
            pattern = TopicPattern.parse(str(table["topic"]))
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        caps = pattern.names

        def f(name: str, spec: Any) -> Field:
            return Field(f"{where}.{name}", spec, caps)

        metrics = table["metrics"]
        if not isinstance(metrics, list) or not metrics:
            raise ConfigError(f"{where}.metrics: list one or more [[mapping.metrics]] tables")
        rules = []
        for i, entry in enumerate(metrics):
            at = f"{where}.metrics[{i}]"
            if not isinstance(entry, dict) or "metric" not in entry or "value" not in entry:
                raise ConfigError(f"{at}: needs `metric` and `value`")
            bad = sorted(set(entry) - _METRIC_FIELDS)
            if bad:
                raise ConfigError(f"{at}: unknown field {bad[0]!r}")
            unit = entry.get("unit", table.get("unit"))
            rules.append(MetricRule(
                f(f"metrics[{i}].metric", entry["metric"]),
                f(f"metrics[{i}].value", entry["value"]),
                f(f"metrics[{i}].unit", unit) if unit is not None else None,
                f(f"metrics[{i}].source", entry["source"]) if "source" in entry else None))
            if rules[-1].value.path is None:
                raise ConfigError(f"{at}.value: must be a JSON path ($ or $.field)")
        ts_unit = table.get("ts_unit", "s")
        if ts_unit not in ("s", "ms"):
            raise ConfigError(f"{where}.ts_unit: `s` or `ms`, got {ts_unit!r}")
        group = f("group", table["group"])
        if group.path is None and not _CAPTURE.search(group.spec) and \
                group.spec not in catalog.GROUPS:
            raise ConfigError(f"{where}.group: unknown group {group.spec!r} (known: "
                              f"{', '.join(catalog.GROUP_SLUGS)})")
        aliases = table.get("districts", {})
        if not isinstance(aliases, dict):
            raise ConfigError(f"{where}.districts: a table of name = \"District\"")
        return cls(pattern, group=group, source=f("source", table["source"]),
                   district=f("district", table["district"]), metrics=rules,
                   ts=f("ts", table["ts"]) if "ts" in table else None, ts_unit=ts_unit,
                   lat=f("lat", table["lat"]) if "lat" in table else None,
                   lon=f("lon", table["lon"]) if "lon" in table else None,
                   districts={str(k): str(v) for k, v in aliases.items()})

    @property
    def groups(self) -> tuple[str, ...] | None:
        """The one group this mapping writes, or None when it comes from the message."""
        g = self.group
        return (g.spec,) if g.path is None and not _CAPTURE.search(g.spec) else None

    def match(self, topic: str) -> dict[str, str] | None:
        """The topic's captures, or None when this mapping does not apply."""
        return self.pattern.match(topic)

    def readings(self, topic: str, raw: bytes, arrival: float,
                 captures: dict[str, str] | None = None) -> Outcome:
        """The readings of one message (``arrival``: epoch seconds it arrived, the ``ts`` of
        readings when no path is configured); whatever cannot be made is in ``errors``."""
        caps = self.pattern.match(topic) if captures is None else captures
        out = Outcome()
        if caps is None:
            out.errors.append(("$", f"topic {topic!r} does not match {self.pattern.text!r}"))
            return out
        try:
            payload = _payload(raw)
            common = self._common(caps, payload, arrival)
        except ValidationError as exc:
            out.errors.append((exc.field or "$", exc.reason))
            return out
        for rule in self.metrics:
            metric = "?"
            try:
                metric = str(rule.metric.get(caps, payload))
                fields = dict(common, metric=metric)
                if rule.source is not None:
                    fields["source"] = str(rule.source.get(caps, payload))
                out.readings.append(Reading(
                    **fields, value=_finite(_number("value", rule.value.get(caps, payload))),
                    unit=_text(rule.unit.get(caps, payload, required=False))
                    if rule.unit else None))
            except ValidationError as exc:
                out.errors.append((f"{metric}.{exc.field}", exc.reason))
            except (TypeError, msgspec.ValidationError) as exc:
                out.errors.append((metric, str(exc)))
        return out

    def _common(self, caps: dict[str, str], payload: Any, arrival: float) -> dict[str, Any]:
        district = str(self.district.get(caps, payload))
        common: dict[str, Any] = {
            "group": str(self.group.get(caps, payload)),
            "source": str(self.source.get(caps, payload)),
            "district": self.districts.get(district) or district_name(district),
            "ts": arrival}
        if self.ts is not None:
            raw_ts = self.ts.get(caps, payload)
            common["ts"] = raw_ts if isinstance(raw_ts, str) and not _numeric(raw_ts) \
                else _number("ts", raw_ts) / self.ts_scale
        for name, spec in (("lat", self.lat), ("lon", self.lon)):
            got = spec.get(caps, payload, required=False) if spec is not None else None
            if got is not None:  # a position is optional: a message without one has none
                common[name] = _number(name, got)
        return common


def _text(raw: Any) -> str | None:
    return None if raw is None else str(raw)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValidationError("value", f"must be a finite number, got {value!r}")
    return value
