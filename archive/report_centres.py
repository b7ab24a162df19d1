"""MTTA per operation centre: who acknowledged a report's episodes, and how fast, grouped by
the centre they work for.

A person's centre is their account's scope (:class:`~archive.accounts.Scope`): a district
operation centre (``Lien Chieu``), a specialised centre (its service groups' names), both
(districts · groups), and the city IOC for a city-wide account. An acknowledgement
whose ``user`` names no account (a shared automation token, an API key, a record from before
personal accounts) counts for the city IOC. The scope read is the account's current one.

>>> from archive.accounts import Scope
>>> centre_of(Scope(("Lien Chieu",), ())), centre_of(Scope())
('Lien Chieu', 'city IOC')
>>> centre_of(Scope(("Hai Chau", "Son Tra"), ("flooding",)))
'Hai Chau, Son Tra · Rainfall & urban flooding'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from archive import schema
from archive.accounts import Scope, scope_of
from archive.queries import Episode
from archive.records import login_of
from archive.store import Store
from ioc import catalog

__all__ = ["CITY_IOC", "by_centre", "centre_of", "centres", "mtta_by_centre"]

CITY_IOC = "city IOC"


def centre_of(scope: Scope) -> str:
    """The name of the operation centre of an account with ``scope``."""
    if scope.city_wide:
        return CITY_IOC
    names = [", ".join(scope.districts),
             ", ".join(catalog.GROUPS[g].name if g in catalog.GROUPS else g
                       for g in scope.groups)]
    return " · ".join(n for n in names if n)


def centres(store: Store) -> dict[str, str]:
    """Every account's centre, by login."""
    u = schema.users
    with store.connect() as conn:
        rows = conn.execute(sa.select(u.c.login, u.c.districts, u.c.groups)).all()
    return {r.login: centre_of(scope_of(r)) for r in rows}


def by_centre(episodes: Iterable[Episode], centre: Mapping[str, str]) -> list[dict[str, Any]]:
    """Acknowledged episodes per centre (``centre``: login -> centre name): how many, by how
    many people, and their mean time to acknowledge; the city IOC first, then by name.

    >>> def ep(user, ack_s):
    ...     return Episode("a", 1, 0.0, "flooding", "Lien Chieu", "major", "s", "d", ack_s,
    ...                    user, None)
    >>> rows = by_centre([ep("operator:mai", 60.0), ep("operator:mai", 120.0),
    ...                   ep("operator", 300.0), ep(None, None)], {"mai": "Lien Chieu"})
    >>> [(r["centre"], r["acknowledged"], r["people"], r["mtta_s"]) for r in rows]
    [('city IOC', 1, 0, 300.0), ('Lien Chieu', 2, 1, 90.0)]
    """
    acks: dict[str, list[float]] = {}
    people: dict[str, set[str]] = {}
    for e in episodes:
        seconds = e.ack_s
        if seconds is None:
            continue
        login = login_of(e.ack_user)
        name = centre.get(login, CITY_IOC) if login else CITY_IOC
        acks.setdefault(name, []).append(seconds)
        if login and login in centre:
            people.setdefault(name, set()).add(login)
    order = sorted(acks, key=lambda n: (n != CITY_IOC, n))
    return [{"centre": n, "acknowledged": len(acks[n]), "people": len(people.get(n, ())),
             "mtta_s": sum(acks[n]) / len(acks[n])} for n in order]


def mtta_by_centre(store: Store, episodes: Iterable[Episode]) -> list[dict[str, Any]]:
    """:func:`by_centre` with the accounts of ``store``."""
    return by_centre(episodes, centres(store))
