"""The place report's summary (guardian/web/report_summary.py): a pure function of the
tables as the page shows them. Ties, small-number suppression (docs/suppression.md: a
withheld median is never "the longest", a * is never printed or ranked), an empty place, a
place with one specialty."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from guardian.projections import bottlenecks as bn
from guardian.web.report_params import Params
from guardian.web.report_summary import summarise
from guardian.web.report_tables import NOT_KNOWN, ReportTable, longest_stages

P = Params(place="Thurrock", as_of=dt.date(2026, 3, 31))
WORKUP, TEST, SEEN, TREAT = bn.STEP_KINDS


def table(slug: str, rows: list[dict[str, Any]]) -> ReportTable:
    return ReportTable(slug, slug, [], rows, empty=f"Nothing in {slug}.")


def stage_row(name: str, **medians: str) -> dict[str, Any]:
    row = {"group": f"{name} (999)", "_name": name,
           **{k: medians.get(k.replace("-", "_"), "*") for k in bn.STEP_KINDS}}
    row["_longest"] = longest_stages(row)
    return row


def equity_row(name: str, total: bool = False, **bands: str) -> dict[str, Any]:
    row = {"group": name, "_name": name, **{b: "*" for b in bn.AGE_BANDS}}
    row.update({k.replace("_", "-").replace("plus", "+"): v for k, v in bands.items()})
    return {**row, "_total": True} if total else row


def tables(stages=(), queues=(), breaches=(), by_band=(), pcns=()) -> dict[str, ReportTable]:
    return {"stage-overview": table("stage-overview", list(stages)),
            "queues-growing": table("queues-growing", list(queues)),
            "breaches": table("breaches", list(breaches)),
            "equity-pcn-age": table("equity-pcn-age", list(by_band)),
            "equity-pcn": table("equity-pcn", list(pcns))}


def findings(t: dict[str, ReportTable], p: Params = P) -> dict[str, Any]:
    return {f.key: f for f in summarise(t, p)}


def numbers(text: str) -> set[str]:
    return set(re.findall(r"\d+(?:\.\d+)?", text.replace(",", "")))


# ----------------------------------------------------------------------------- stages


def test_the_three_groups_whose_longest_stage_is_longest():
    f = findings(tables(stages=[
        stage_row("Gynaecology", first_seen="24.0", treatment="10.0", workup="2.0"),
        stage_row("Urology", diagnostic="9.0", first_seen="8.5"),
        stage_row("Dermatology", first_seen="3.0"),
        stage_row("ENT", treatment="12.5"),
    ]))["stages"]
    assert f.heading == "The longest stages"
    assert f.sentences == (
        "Steps completed in the last 26 weeks, by treatment function:",
        "For Gynaecology the longest stage is referral received → first seen: median 24.0 weeks.",
        "For ENT the longest stage is first seen → clock stop (treatment): median 12.5 weeks.",
        "For Urology the longest stage is test ordered → test resulted: median 9.0 weeks.",
    )
    assert "Dermatology" not in " ".join(f.sentences)
    assert f.chart is not None and "Gynaecology · First seen" in f.chart


def test_ties_between_groups_go_by_name_and_tied_stages_are_both_named():
    f = findings(tables(stages=[
        stage_row("Urology", first_seen="9.0"),
        stage_row("Cardiology", first_seen="9.0"),
        stage_row("Neurology", diagnostic="9.0"),
        stage_row("Ophthalmology", workup="9.0", treatment="9.0"),
    ]))["stages"]
    assert [s.split(" the longest")[0] for s in f.sentences[1:]] == [
        "For Cardiology", "For Neurology", "For Ophthalmology"]
    assert f.sentences[3] == ("For Ophthalmology the longest stages are referral received → "
                              "agreed workup complete and first seen → clock stop (treatment): "
                              "median 9.0 weeks each.")


def test_a_withheld_median_is_never_the_longest_stage():
    f = findings(tables(stages=[
        stage_row("Audiology"),  # every median withheld: fewer than 8 pathways each
        stage_row("Gynaecology", diagnostic="*", first_seen="4.0"),
        stage_row(NOT_KNOWN, first_seen="40.0"),
    ]))["stages"]
    text = " ".join(f.sentences)
    assert "Audiology" not in text and NOT_KNOWN not in text
    assert f.sentences[1:] == ("For Gynaecology the longest stage is referral received → "
                               "first seen: median 4.0 weeks.",)
    only_withheld = findings(tables(stages=[stage_row("Audiology")]))["stages"]
    assert only_withheld.chart is None
    assert only_withheld.sentences == (
        "Too few pathways completed each stage in the last 26 weeks to say which takes "
        "longest (a median needs 8 or more).",)


# ----------------------------------------------------------------------------- queues


def queue(name: str, weeks: int, net: Any, inflow: Any = 40, outflow: Any = 20) -> dict:
    return {"group": f"{name} (999)", "_name": name, "weeks_growing": weeks,
            "inflow": inflow, "outflow": outflow, "net": net, "waiting": 100}


def test_the_queues_growing_longest_in_the_tables_order_without_hidden_growth():
    f = findings(tables(queues=[queue("Dermatology", 8, 35), queue("Urology", 6, "*"),
                                queue("ENT", 5, 10), queue("Cardiology", 4, 10)]))["queues"]
    assert f.sentences == (
        "In Dermatology more referrals arrived than left the list in each of the last 8 weeks "
        "(35 more in all).",
        "In Urology more referrals arrived than left the list in each of the last 6 weeks.",
        "In ENT more referrals arrived than left the list in each of the last 5 weeks (10 more "
        "in all).",
        "4 queues in all grew for 4 weeks in a row or more.",
    )
    none = findings(tables())["queues"]
    assert none.chart is None and none.sentences == (
        "No queue had more referrals arriving than leaving the list in each of the last 4 "
        "weeks, by treatment function.",)


# ----------------------------------------------------------------------------- breaches


def breach(standard: str, n: Any) -> dict:
    return {"standard": standard, "breaches": n}


def test_the_standards_most_breached_never_rank_or_print_a_hidden_count():
    f = findings(tables(breaches=[breach("RTT 18 weeks", 45), breach("Cancer 62 days", "*"),
                                  breach("Diagnostics 6 weeks", 20),
                                  breach("Agreed workup", 20), breach("Urgent", 10)]))
    sentences = f["breaches"].sentences
    assert sentences == ("Recorded in the 26 weeks up to 31 March 2026:",
                         "RTT 18 weeks: 45 breaches.",
                         "Agreed workup: 20 breaches.",  # a tie: by name
                         "Diagnostics 6 weeks: 20 breaches.")
    assert "Cancer" not in " ".join(sentences) and "Cancer" not in f["breaches"].chart
    hidden = findings(tables(breaches=[breach("Cancer 62 days", "*")]))["breaches"]
    assert hidden.chart is None and hidden.sentences == (
        "Fewer than 8 breaches of each standard were recorded in the 26 weeks up to 31 March "
        "2026.",)


# ----------------------------------------------------------------------------- equity


def test_the_widest_gap_against_the_place_for_the_same_age_band():
    f = findings(tables(
        by_band=[equity_row("Grays PCN", **{"80plus": "25.0", "40_64": "9.0"}),
                 equity_row("Tilbury PCN", **{"80plus": "*", "40_64": "30.0"}),
                 equity_row("Corringham PCN", **{"80plus": "21.0"}),
                 equity_row(NOT_KNOWN, **{"80plus": "60.0"}),
                 equity_row("Whole place", total=True, **{"80plus": "20.0", "40_64": "10.0"})],
        pcns=[{"group": "Grays PCN (U1)", "_name": "Grays PCN", "median_weeks": "12.0"},
              {"group": "Tilbury PCN (U2)", "_name": "Tilbury PCN", "median_weeks": "18.5"},
              {"group": "Stanford PCN (U3)", "_name": "Stanford PCN", "median_weeks": "*"}],
    ))["equity"]
    assert f.sentences == (
        "Patients aged 40 to 64 registered in Tilbury PCN wait longest for their age: a median "
        "of 30.0 weeks, 20.0 weeks longer than patients aged 40 to 64 across Thurrock "
        "(10.0 weeks).",
        "Across PCNs the median wait runs from 12.0 weeks (Grays PCN) to 18.5 weeks "
        "(Tilbury PCN).",
    )
    assert "Stanford" not in " ".join(f.sentences) and NOT_KNOWN not in f.chart


def test_no_gap_from_withheld_medians():
    f = findings(tables(
        by_band=[equity_row("Grays PCN", **{"80plus": "*"}),
                 equity_row("Whole place", total=True, **{"80plus": "20.0"})],
        pcns=[{"group": "Grays PCN (U1)", "_name": "Grays PCN", "median_weeks": "12.0"}]))
    assert f["equity"].chart is None
    assert f["equity"].sentences == (
        "Too few patients are waiting in each PCN and age band to compare their waits (a "
        "median needs 8 or more).",)


# ----------------------------------------------------------------------------- places


def test_an_empty_place_says_so_without_charts():
    found = summarise(tables(), P)
    assert [f.key for f in found] == ["stages", "queues", "breaches", "equity"]
    assert all(f.chart is None for f in found)
    by_key = {f.key: f for f in found}
    assert by_key["stages"].sentences == ("Nothing in stage-overview.",)
    assert by_key["breaches"].sentences == (
        "No breaches were recorded in the 26 weeks up to 31 March 2026.",)


def test_a_place_with_one_specialty():
    f = findings(tables(
        stages=[stage_row("Gynaecology", first_seen="24.0", diagnostic="3.0")],
        queues=[queue("Gynaecology", 4, 15)],
        breaches=[breach("RTT 18 weeks", 10)],
        by_band=[equity_row("Grays PCN", **{"18_39": "22.0"}),
                 equity_row("Whole place", total=True, **{"18_39": "22.0"})],
        pcns=[{"group": "Grays PCN (U1)", "_name": "Grays PCN", "median_weeks": "22.0"}]))
    assert f["stages"].sentences[1:] == (
        "For Gynaecology the longest stage is referral received → first seen: median 24.0 "
        "weeks.",)
    assert len(f["queues"].sentences) == 1
    assert f["breaches"].sentences[1:] == ("RTT 18 weeks: 10 breaches.",)
    # one PCN: no gap between PCNs, and none above the place (it is the place)
    assert f["equity"].sentences[0].startswith("Too few patients")


def test_only_the_findings_of_the_tables_built():
    """A section's fragment builds only its tables: the summary has only its answer."""
    t = {"queues-growing": table("queues-growing", [queue("ENT", 5, 10)])}
    assert [f.key for f in summarise(t, P)] == ["queues"]


def test_every_number_in_a_sentence_is_shown_in_a_table():
    t = tables(
        stages=[stage_row("Gynaecology", first_seen="24.0"), stage_row("ENT", treatment="*")],
        queues=[queue("ENT", 6, "*", inflow=15, outflow="*")],
        breaches=[breach("RTT 18 weeks", 45), breach("Cancer", "*")],
        by_band=[equity_row("Grays PCN", **{"80plus": "25.0"}),
                 equity_row("Whole place", total=True, **{"80plus": "20.0"})],
        pcns=[{"group": "Grays PCN (U1)", "_name": "Grays PCN", "median_weeks": "12.0"},
              {"group": "Tilbury PCN (U2)", "_name": "Tilbury PCN", "median_weeks": "14.0"}])
    shown = {str(v) for tb in t.values() for row in tb.rows for v in row.values()}
    shown |= {"26", "31", "2026", "5.0", "80"}  # the window, the date, a gap, an age band
    names = sorted({str(r["standard"]) for r in t["breaches"].rows}, key=len, reverse=True)
    for f in summarise(t, P):
        for sentence in f.sentences:
            for name in names:  # a standard's name may hold a number ("18 weeks")
                sentence = sentence.replace(name, "")
            assert numbers(sentence) <= shown, sentence
