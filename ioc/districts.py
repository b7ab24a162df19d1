"""The districts of Da Nang: names, short codes and approximate centres.

>>> district("Son Tra").code, district("Son Tra").name_vi, len(DISTRICTS), "Hoang Sa" in MAINLAND
('ST', 'Sơn Trà', 8, False)
"""

from __future__ import annotations

from dataclasses import dataclass

from ioc.errors import ValidationError

__all__ = ["COASTAL", "DISTRICTS", "DISTRICT_NAMES", "MAINLAND", "District", "district"]


@dataclass(frozen=True, slots=True)
class District:
    """A district of Da Nang with a short code, an approximate centre and its Vietnamese
    spelling (``name`` is the ASCII spelling the records carry)."""

    name: str
    code: str
    lat: float
    lon: float
    name_vi: str = ""


DISTRICTS: tuple[District, ...] = (
    District("Hai Chau", "HC", 16.0471, 108.2068, "Hải Châu"),
    District("Thanh Khe", "TK", 16.0640, 108.1870, "Thanh Khê"),
    District("Son Tra", "ST", 16.0860, 108.2450, "Sơn Trà"),
    District("Ngu Hanh Son", "NHS", 16.0000, 108.2560, "Ngũ Hành Sơn"),
    District("Lien Chieu", "LC", 16.0800, 108.1400, "Liên Chiểu"),
    District("Cam Le", "CL", 16.0150, 108.1950, "Cẩm Lệ"),
    District("Hoa Vang", "HV", 16.0000, 108.1000, "Hòa Vang"),
    District("Hoang Sa", "HS", 16.5000, 111.6000, "Hoàng Sa"),
)
DISTRICT_NAMES: frozenset[str] = frozenset(d.name for d in DISTRICTS)
MAINLAND: tuple[str, ...] = tuple(d.name for d in DISTRICTS if d.code != "HS")
COASTAL: tuple[str, ...] = ("Son Tra", "Ngu Hanh Son", "Lien Chieu", "Hoang Sa")
_DISTRICT_BY_NAME = {d.name: d for d in DISTRICTS}

def district(name: str) -> District:
    """The district called ``name``; ValidationError naming the known districts otherwise."""
    try:
        return _DISTRICT_BY_NAME[name]
    except KeyError:
        known = ", ".join(d.name for d in DISTRICTS)
        raise ValidationError("district", f"unknown district {name!r} (known: {known})") from None
