"""The map's HTTP side: ``/api/map/districts`` (the district boundaries as shipped in
``ioc/geodata``, with their attribution; public, like the catalog) and ``/api/map`` (what the
map draws now, as the principal's scope sees it: every source with a fixed place, the
moving ones with their tracks and whether they are lost, the worst open alert of each source
and each district's status).

The page polls ``/api/map`` (every few seconds: a wall has one map, and the answer is a few
kilobytes); the statuses are the summary's (:func:`district_statuses`), so the map, the
wall's tiles and the summary never disagree.

>>> body = map_body(State(), Tracks(), Scope(("Hai Chau",)), {})
>>> {p["district"] for p in body["places"]}, body["moving"], body["alerts"]
({'Hai Chau'}, [], {})
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from archive.accounts import Scope
from dashboards import scope as scoping
from dashboards.state import State, encode
from dashboards.tracks import Tracks
from ioc import boundaries, catalog
from ioc.events import SEVERITIES

if TYPE_CHECKING:
    from dashboards.web import Site

__all__ = ["district_statuses", "map_body", "map_routes", "worst_by_source"]

POLL_S = 3.0   # how often the page asks (sent to it, so one place decides)
_RANK = {s: i for i, s in enumerate(SEVERITIES)}


@functools.cache
def _places() -> tuple[dict[str, Any], ...]:
    out = []
    for src in catalog.all_sources():
        if src.kind in boundaries.MOVING_KINDS:
            continue
        lat, lon = boundaries.home(src)
        out.append({"id": src.id, "group": src.group, "kind": src.kind,
                    "district": src.district, "lat": lat, "lon": lon})
    return tuple(out)


def worst_by_source(state: State, scope: Scope) -> dict[str, dict[str, Any]]:
    """Per source with open alerts (not silenced) in ``scope``: the worst one's severity and
    id, and how many are open."""
    out: dict[str, dict[str, Any]] = {}
    for a in state.alerts.values():
        if a.status == "silenced" or not scope.allows(district=a.district, group=a.group):
            continue
        held = out.get(a.source)
        if held is None:
            out[a.source] = {"severity": a.severity, "alert_id": a.alert_id, "open": 1}
            continue
        held["open"] += 1
        if _RANK[a.severity] > _RANK[held["severity"]]:
            held["severity"], held["alert_id"] = a.severity, a.alert_id
    return out


def district_statuses(summary: dict[str, Any]) -> dict[str, str]:
    """Each district's status from the summary body the server ships (the one status rule of
    :mod:`dashboards.status`); a body without statuses gives none, and the map then draws
    every district as ``no_data`` (``map.js`` never judges a status itself).

    >>> district_statuses({"districts": [{"district": "Hai Chau", "status": "major"}]})
    {'Hai Chau': 'major'}
    """
    body = summary
    return {d["district"]: d["status"] for d in body.get("districts", ())
            if isinstance(d, dict) and isinstance(d.get("status"), str)}


def map_body(state: State, tracks: Tracks, scope: Scope,
             statuses: dict[str, str]) -> dict[str, Any]:
    """What ``/api/map`` answers for ``scope`` (``statuses``: :func:`district_statuses`)."""
    places = [p for p in _places() if scope.allows(district=p["district"], group=p["group"])]
    moving = [m for m in tracks.view() if scope.allows(district=m["district"], group=m["group"])]
    return {"as_of": tracks.as_of, "poll_s": POLL_S, "places": places, "moving": moving,
            "alerts": worst_by_source(state, scope), "districts": statuses}


class _MapApi:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.boundaries = encode({"attribution": boundaries.ATTRIBUTION,
                                  "mainland_bbox": list(boundaries.MAINLAND_BBOX),
                                  "geojson": msgspec.json.decode(boundaries.geojson_bytes())})
        self._statuses: dict[Scope, tuple[int, dict[str, str]]] = {}

    def statuses(self, state: State, scope: Scope) -> dict[str, str]:
        """The districts' statuses of ``scope``, computed again only when the state changed."""
        held = self._statuses.get(scope)
        if held is None or held[0] != state.changes:
            if len(self._statuses) > 64:
                self._statuses.clear()
            held = self._statuses[scope] = (state.changes,
                                            district_statuses(state.summary(scope)))
        return held[1]

    async def districts(self, request: Request) -> Response:
        return Response(self.boundaries, 200, media_type="application/json",
                        headers={"Cache-Control": "max-age=3600"})

    async def live(self, request: Request) -> Response:
        who = await self.site.who(request)
        if who.principal is None:
            return self.site.unauthorized(who)
        dashboard = self.site.dashboard
        scope = who.principal.scope
        state = dashboard.state
        body = map_body(state, dashboard.tracks, scope,
                        self.statuses(state, scoping.key(scope)))
        return Response(encode(body), 200, media_type="application/json",
                        headers={"Cache-Control": "no-store"})


def map_routes(site: Site) -> list[BaseRoute]:
    """The map's two routes, served by ``site``'s dashboard."""
    api = _MapApi(site)
    return [Route("/api/map/districts", api.districts, methods=["GET"]),
            Route("/api/map", api.live, methods=["GET"])]
