"""Where things are in Da Nang: the 8 district boundaries (``ioc/geodata``, geoBoundaries via
OCHA ROAP, CC BY 3.0 IGO: :data:`ATTRIBUTION` is shown wherever the map is) and a source's
place inside its district.

The catalog places sources around a district's approximate centre; :func:`home` moves the
few that land outside their district (in the river, across a border) just inside it, so the
simulator and the map agree on one position per source. Pure: the file is read once.

>>> contains("Hai Chau", 16.0471, 108.2068), contains("Hai Chau", 16.0860, 108.2450)
(True, False)
>>> lat, lon = home(catalog.group("flooding").sources()[0])
>>> contains(catalog.group("flooding").sources()[0].district, lat, lon)
True
>>> sorted(MOVING_KINDS)
['bus', 'vehicle', 'vessel']
"""

from __future__ import annotations

import functools
import itertools
import json
from pathlib import Path

from ioc import catalog

__all__ = ["ATTRIBUTION", "GEOJSON_PATH", "MAINLAND_BBOX", "MOVING_KINDS", "contains",
           "geojson_bytes", "home", "inside", "interior"]

GEOJSON_PATH = Path(__file__).resolve().parent / "geodata" / "danang-districts.geojson"
# The licence asks for this wherever the boundaries are shown (geodata/SOURCE.md).
ATTRIBUTION = ("District boundaries: Government of Viet Nam / OCHA ROAP (Viet Nam Subnational "
               "Administrative Boundaries, COD-AB), via geoBoundaries (www.geoboundaries.org), "
               "CC BY 3.0 IGO. Subset and coordinates rounded by this project.")
# min lon, min lat, max lon, max lat of the 7 mainland districts (Hoang Sa is offshore)
MAINLAND_BBOX = (107.81882, 15.91795, 108.33833, 16.21553)
# Source kinds that move (their readings carry lat/lon); every other source stays at home.
MOVING_KINDS: frozenset[str] = frozenset({"vehicle", "bus", "vessel"})

Ring = list[tuple[float, float]]      # (lon, lat), closed
Polygon = list[Ring]                  # outer ring, then holes


@functools.cache
def geojson_bytes() -> bytes:
    """The boundaries file as shipped (a FeatureCollection, one feature per district)."""
    return GEOJSON_PATH.read_bytes()


@functools.cache
def _polygons() -> dict[str, list[Polygon]]:
    found: dict[str, list[Polygon]] = {}
    for feature in json.loads(geojson_bytes())["features"]:
        geometry = feature["geometry"]
        parts = [geometry["coordinates"]] if geometry["type"] == "Polygon" else \
            geometry["coordinates"]
        found[feature["properties"]["name"]] = [
            [[(float(x), float(y)) for x, y in ring] for ring in part] for part in parts]
    return found


def _in_ring(ring: Ring, lon: float, lat: float) -> bool:
    hit = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > lat) != (y2 > lat) and lon < (x2 - x1) * (lat - y1) / (y2 - y1) + x1:
            hit = not hit
    return hit


def contains(district: str, lat: float, lon: float) -> bool:
    """Whether (lat, lon) lies inside ``district`` (False for an unknown district)."""
    for polygon in _polygons().get(district, ()):
        if _in_ring(polygon[0], lon, lat) and not any(
                _in_ring(hole, lon, lat) for hole in polygon[1:]):
            return True
    return False


@functools.cache
def interior(district: str) -> tuple[float, float]:
    """A point well inside ``district`` (lat, lon): its catalog centre when that is inside,
    else the vertex average of its largest part."""
    d = catalog.district(district)
    if contains(district, d.lat, d.lon):
        return d.lat, d.lon
    ring = max((p[0] for p in _polygons()[district]), key=len)
    lat = sum(y for _, y in ring) / len(ring)
    lon = sum(x for x, _ in ring) / len(ring)
    return round(lat, 5), round(lon, 5)


def inside(district: str, lat: float, lon: float) -> tuple[float, float]:
    """(lat, lon) when it is inside ``district``, else the first point on the way to the
    district's :func:`interior` that is, a little further in (about 150 m).

    >>> inside("Son Tra", 16.0860, 108.2450)      # Son Tra's centre: inside already
    (16.086, 108.245)
    >>> contains("Son Tra", *inside("Son Tra", 16.0471, 108.2068))   # from Hai Chau
    True
    """
    if contains(district, lat, lon):
        return lat, lon
    clat, clon = interior(district)
    steps = 200
    for i in range(1, steps + 1):
        t = min(1.0, i / steps + 0.03)
        plat, plon = lat + (clat - lat) * t, lon + (clon - lon) * t
        if contains(district, plat, plon):
            t = min(1.0, t + 0.05)
            return round(lat + (clat - lat) * t, 5), round(lon + (clon - lon) * t, 5)
    return clat, clon


def home(source: catalog.Source) -> tuple[float, float]:
    """Where ``source`` is (lat, lon): its catalog position moved inside its district (a
    moving source starts its round from here; a vessel's is its port of registry)."""
    return inside(source.district, source.lat, source.lon)
