"""Scope on the server: what a principal limited to some districts and/or service groups
sees, and what it may act on (issue 12, item 4).

Pure rules, no I/O, no awaits (like :mod:`dashboards.hub`): the hub filters deltas with
:func:`sees`, narrows incidents with :func:`narrow_incident`, the relay refuses commands with
:func:`check_command`, the HTTP routes check query parameters with :func:`check_place`. A
:class:`~archive.accounts.Scope` with no districts and no groups is the whole city and lets
everything through unchanged.

>>> lien_chieu = Scope(("Lien Chieu",))
>>> sees(lien_chieu, "alert", ("flooding",), "Lien Chieu"), sees(lien_chieu, "alert",
...                                                              ("flooding",), "Hai Chau")
(True, False)
>>> from ioc.events import Incident
>>> inc = Incident(incident_id="inc:LC:1", version=1, status="open", district="Lien Chieu",
...     groups=["flooding", "traffic"], alert_ids=["z:flooding:r-1:rain", "z:traffic:t-1:speed"],
...     severity="critical", title="Lien Chieu: flooding + traffic", first_seen=0.0,
...     last_seen=0.0, updated_at=0.0)
>>> mine = narrow_incident(inc, Scope((), ("flooding",)), {"z:flooding:r-1:rain": "major"}.get)
>>> mine.groups, mine.alert_ids, mine.severity, mine.title
(['flooding'], ['z:flooding:r-1:rain'], 'major', 'Lien Chieu: flooding')
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec

from archive.accounts import Scope
from dashboards.protocol import CommandRequest, ProtocolError
from ioc.errors import ValidationError
from ioc.events import SEVERITIES, Incident, split_alert_id

__all__ = ["CITY", "OutOfScope", "check_command", "check_place", "describe", "group_of",
           "key", "narrow_incident", "sees", "silence_place", "unregistered_view"]

CITY = Scope()

Lookup = Callable[[str], str | None]


class OutOfScope(ProtocolError):
    """A command on something outside the principal's scope: the ``forbidden`` error frame
    (counted apart, as ``out_of_scope``, in ``ioc_dashboard_commands_rejected_total``)."""

    def __init__(self, field: str, reason: str, ref: str | None = None) -> None:
        super().__init__("forbidden", field, reason, ref)


def key(scope: Scope) -> Scope:
    """The canonical form of a scope (names sorted), to group clients that see the same.

    >>> key(Scope(("Son Tra", "Hai Chau"))) == key(Scope(("Hai Chau", "Son Tra")))
    True
    """
    return Scope(tuple(sorted(set(scope.districts))), tuple(sorted(set(scope.groups))))


def describe(scope: Scope) -> str:
    """The scope in words for refusals.

    >>> describe(Scope(("Lien Chieu",), ("flooding",)))
    'districts Lien Chieu; groups flooding'
    """
    parts = [f"districts {', '.join(scope.districts)}"] if scope.districts else []
    if scope.groups:
        parts.append(f"groups {', '.join(scope.groups)}")
    return "; ".join(parts) or "the whole city"


def group_of(alert_id: str) -> str | None:
    """The group part of an alert id (None when it is not one).

    >>> group_of("robust_z:flooding:rain-HC-01:rainfall"), group_of("nope")
    ('flooding', None)
    """
    try:
        return split_alert_id(alert_id)[1]
    except ValidationError:
        return None


def sees(scope: Scope, kind: str, groups: Iterable[str], district: str) -> bool:
    """Whether a record of ``kind`` in ``district`` and ``groups`` (an incident: any of
    them; a silence: what its matchers name, ``""``/none for "any") is within ``scope``.

    >>> sees(Scope((), ("traffic",)), "incident", ("flooding", "traffic"), "Hai Chau")
    True
    >>> sees(Scope(("Lien Chieu",)), "silence", ("traffic",), "")  # it holds theirs too
    True
    """
    if scope.districts and district not in scope.districts and not (
            kind == "silence" and not district):
        return False
    if not scope.groups:
        return True
    names = tuple(groups)
    if kind == "silence" and not names:
        return True
    return any(g in scope.groups for g in names)


def silence_place(matchers: Mapping[str, str], district_of: Lookup | None = None
                  ) -> tuple[set[str], set[str]]:
    """The districts and groups a silence's matchers name (an ``alert_id`` matcher names its
    group, and its district when ``district_of`` knows the alert).

    >>> silence_place({"alert_id": "z:traffic:t-1:speed", "district": "Son Tra"})
    ({'Son Tra'}, {'traffic'})
    """
    districts = {matchers["district"]} if matchers.get("district") else set()
    groups = {matchers["group"]} if matchers.get("group") else set()
    alert_id = matchers.get("alert_id")
    if alert_id:
        group = group_of(alert_id)
        if group:
            groups.add(group)
        place = district_of(alert_id) if district_of is not None else None
        if place:
            districts.add(place)
    return districts, groups


def narrow_incident(incident: Incident, scope: Scope, severity_of: Lookup | None = None
                    ) -> Incident | None:
    """``incident`` as ``scope`` sees it: None when it touches nothing in scope; else only
    its groups and member alerts in scope, its title and severity made from those members
    (``severity_of(alert_id)``: a member's severity when known; the incident's own when no
    member's is). The same object when nothing is left out."""
    if scope.districts and incident.district not in scope.districts:
        return None
    if not scope.groups:
        return incident
    groups = [g for g in incident.groups if g in scope.groups]
    if not groups:
        return None
    if len(groups) == len(incident.groups):
        return incident
    members = [a for a in incident.alert_ids if group_of(a) in scope.groups]
    known = [s for a in members if (s := severity_of(a) if severity_of else None) in SEVERITIES]
    severity = max(known, key=SEVERITIES.index) if known else incident.severity
    title = f"{incident.district}: " + " + ".join(g.replace("_", " ") for g in groups)
    return msgspec.structs.replace(incident, groups=groups, alert_ids=members,
                                   severity=severity, title=title)


def check_place(scope: Scope, *, district: str | None = None, group: str | None = None
                ) -> str | None:
    """The name of the query parameter (``district``, ``group``) asking for something
    outside ``scope``, else None.

    >>> check_place(Scope(("Lien Chieu",)), district="Hai Chau", group="flooding")
    'district'
    """
    if district and scope.districts and district not in scope.districts:
        return "district"
    if group and scope.groups and group not in scope.groups:
        return "group"
    return None


def check_command(scope: Scope, req: CommandRequest, *, district_of: Lookup,
                  silence_of: Callable[[str], Mapping[str, str] | None]) -> None:
    """Raise :class:`OutOfScope` unless ``req`` acts only inside ``scope``.

    * ``ack``, ``resolve``, ``note``: the alert's group must be in scope, and its district
      (``district_of(alert_id)``; None: not known yet) too;
    * ``silence``: every matcher naming a district or a group (an ``alert_id`` names both)
      must name one in scope, and a district-scoped principal must name a district (a
      silence without one would hold alerts of other districts); likewise groups;
    * ``unsilence``: the silence lifted (``silence_of(silence_id)``: its matchers) must be
      one the principal could have set.

    The refusal never says whether an alert outside the scope exists. A malformed request is
    left to :func:`~dashboards.commands.build_command`.

    >>> req = CommandRequest(action="ack", alert_id="z:flooding:r-9:rain", ref="c1")
    >>> check_command(Scope(("Lien Chieu",)), req, district_of={}.get, silence_of={}.get)
    Traceback (most recent call last):
    ...
    dashboards.scope.OutOfScope: forbidden: alert_id: outside your scope (districts Lien Chieu)
    """
    if scope.city_wide:
        return
    outside = f"outside your scope ({describe(scope)})"
    if req.action in ("ack", "resolve", "note") and req.alert_id:
        group = group_of(req.alert_id)
        if group is None:
            return
        district = district_of(req.alert_id)
        if not scope.allows(group=group) or (scope.districts and district is None) or \
                not scope.allows(district=district):
            raise OutOfScope("alert_id", outside, req.ref)
    elif req.action == "silence" and req.matchers:
        _check_silence(scope, req.matchers, district_of, f"a silence {outside}", req.ref)
    elif req.action == "unsilence" and req.silence_id:
        matchers = silence_of(req.silence_id)
        if matchers is None:
            raise OutOfScope("silence_id", f"no silence {outside}", req.ref)
        _check_silence(scope, matchers, district_of, f"that silence is {outside}", req.ref,
                       field="silence_id")


def _check_silence(scope: Scope, matchers: Mapping[str, str], district_of: Lookup,
                   reason: str, ref: str | None, field: str = "matchers") -> None:
    districts, groups = silence_place(matchers, district_of)
    if scope.districts and (not districts or not districts <= set(scope.districts)):
        hint = "" if field != "matchers" else ": name a district of yours"
        raise OutOfScope(field, reason + hint, ref)
    if scope.groups and (not groups or not groups <= set(scope.groups)):
        hint = "" if field != "matchers" else ": name a group of yours"
        raise OutOfScope(field, reason + hint, ref)


def unregistered_view(view: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """The engineers' unregistered sources as ``scope`` sees them: only its groups; none for
    a district-scoped principal (a source outside the catalog has no known district).

    >>> v = {"total": 3, "groups": [{"group": "flooding", "count": 2, "more": False,
    ...       "sources": ["a", "b"]}, {"group": "traffic", "count": 1, "more": False,
    ...       "sources": ["c"]}]}
    >>> unregistered_view(v, Scope((), ("traffic",)))["total"]
    1
    >>> unregistered_view(v, Scope(("Hai Chau",)))
    {'total': 0, 'groups': []}
    """
    if scope.city_wide:
        return view
    if scope.districts:
        return {**view, "total": 0, "groups": []}
    groups = [g for g in view["groups"] if g["group"] in scope.groups]
    return {**view, "total": sum(g["count"] for g in groups), "groups": groups}
