"""The one status rule (dashboards.status) and the summary that ships it to both pages."""

from __future__ import annotations

import pytest

from dashboards import status as rule
from dashboards.state import State
from dashboards.summary import summarize
from ioc.events import GroupIndicator

T0 = 1_767_225_600.0


@pytest.mark.parametrize(("facts", "expected"), [
    (rule.Facts(worst="critical", reporting=21, expected=21), "critical"),
    (rule.Facts(worst="major", reporting=1, expected=21, age_s=10.0), "major"),
    (rule.Facts(worst="warning", reporting=21, expected=21), "warning"),
    (rule.Facts(worst="info", reporting=21, expected=21, age_s=3600.0), "ok"),
    (rule.Facts(reporting=10, expected=21, age_s=179.0, grace_s=600.0), "starting"),
    (rule.Facts(reporting=10, expected=21, age_s=601.0, grace_s=600.0), "major"),
    (rule.Facts(reporting=18, expected=21, age_s=601.0, grace_s=600.0), "warning"),
    (rule.Facts(reporting=21, expected=21, in_breach=2, age_s=601.0), "warning"),
    (rule.Facts(reporting=21, expected=21, age_s=1.0), "ok"),
    (rule.Facts(alerts=1), "ok"),
    (rule.Facts(), "no_data"),
])
def test_rule_in_order(facts: rule.Facts, expected: str) -> None:
    """Alerts first, then start-up, then missing sources, then breaches."""
    assert rule.judge(facts).status == expected


def test_every_status_has_a_reason_key_in_the_catalogs() -> None:
    from ioc import i18n

    for lang in i18n.LANGUAGES:
        for s in rule.STATUSES:
            assert f"status.{s}" in i18n.messages(lang)
    cases = [rule.Facts(worst=w) for w in ("critical", "major", "warning")] + [
        rule.Facts(reporting=1, expected=3, age_s=1.0), rule.Facts(reporting=1, expected=3),
        rule.Facts(reporting=3, expected=3, in_breach=1), rule.Facts(reporting=3, expected=3),
        rule.Facts()]
    for f in cases:
        v = rule.judge(f)
        for lang in i18n.LANGUAGES:
            text = i18n.t(lang, v.reason, **v.params)
            assert "{" not in text and text != v.reason


def _indicator(group: str, district: str, start: float, reporting: int, expected: int,
               breach: int = 0) -> GroupIndicator:
    return GroupIndicator(group=group, district=district, start=start, end=start + 60.0,
                          sources_reporting=reporting, sources_expected=expected,
                          sources_in_breach=breach, open_alerts={}, kpis={})


def test_a_group_whose_sources_still_arrive_is_starting_then_major() -> None:
    """Flooding with 10 of 21 sources three minutes after start: starting, not red; the
    same an hour later: major (under half reporting)."""
    st = State()
    st.apply(_indicator("flooding", "Hai Chau", T0, 10, 21))
    st.apply(_indicator("flooding", "Hai Chau", T0 + 180, 10, 21))
    flooding = next(g for g in summarize(st)["groups"] if g["group"] == "flooding")
    assert flooding["status"] == "starting"
    assert flooding["by_district"] == {"Hai Chau": "starting"}
    hc = next(d for d in summarize(st)["districts"] if d["district"] == "Hai Chau")
    assert hc["status"] == "starting"
    st.apply(_indicator("flooding", "Hai Chau", T0 + 3600, 10, 21))
    flooding = next(g for g in summarize(st)["groups"] if g["group"] == "flooding")
    assert (flooding["status"], flooding["reason"]["key"]) == ("major", "status.why.reporting")


def test_group_and_district_statuses_agree_with_their_cells() -> None:
    """A district's status is never better than the worst of its groups' cells there."""
    st = State()
    st.apply(_indicator("flooding", "Hai Chau", T0 - 7200, 21, 21))
    st.apply(_indicator("flooding", "Hai Chau", T0, 21, 21, breach=1))
    st.apply(_indicator("traffic", "Hai Chau", T0 - 7200, 3, 3))
    st.apply(_indicator("traffic", "Hai Chau", T0, 3, 3))
    body = summarize(st)
    order = {s: i for i, s in enumerate(rule.STATUSES)}
    by_group = {g["group"]: g for g in body["groups"]}
    assert by_group["flooding"]["status"] == "warning"
    assert by_group["traffic"]["status"] == "ok"
    hc = next(d for d in body["districts"] if d["district"] == "Hai Chau")
    worst_cell = min((g["by_district"]["Hai Chau"] for g in by_group.values()
                      if "Hai Chau" in g["by_district"]), key=order.__getitem__)
    assert order[hc["status"]] <= order[worst_cell]
