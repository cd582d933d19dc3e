"""The place report starts with the answer (guardian/web/report_summary.py): the summary
leads the page, names groups by name, prints no number its tables do not show (so nothing
small-number suppression hides, docs/suppression.md), follows a section's settings when
that section is swapped, and every section shows its chart before its table."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient
from report_helpers import AS_OF, PLACE, page_tables, prepare, report_url, signed_in

from guardian.config import Settings
from guardian.projections import bottlenecks as bn
from guardian.web import reports
from guardian.web.app import create_app
from guardian.web.report_summary import summarise

SECTION_IDS = ("stages", "bottlenecks", "queues", "breaches", "rtt", "equity", "trend")


def _text(html: str) -> str:
    html = re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)
    html = re.sub(r'<span class="nhsuk-u-visually-hidden">.*?</span>', " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def _summary(html: str) -> str:
    found = re.search(r'<section class="guardian-report-summary" id="summary".*?</section>',
                      html, re.S)
    assert found, "no summary on the page"
    return found.group(0)


def test_the_summary_leads_the_page(demo):
    signed_in(demo, "place-lead")
    html = demo.get(report_url()).text
    main = html[html.index("<main"):]
    summary_at = main.index('id="summary"')
    assert summary_at < main.index("<table") and summary_at < main.index('id="stages"')
    assert re.findall(r"<h2[^>]*>([^<]+)</h2>", main)[0] == "Summary"
    summary = _summary(main)
    for heading in ("The longest stages", "The queues growing fastest",
                    "The standards most breached", "The widest gap in waits"):
        assert f">{heading}</h3>" in summary
    assert summary.count('<svg class="chart') >= 3  # a small chart beside most answers
    text = _text(summary)
    assert "the longest stage is" in text and "median" in text
    # names, not codes: no treatment function, PCN or provider code in a sentence
    assert not re.search(r"\(\d{3}\)|\b[A-Z]\d{5}\b|\bR[A-Z0-9]{2}\b", text), text


def _only_shown_numbers(html: str, params: dict) -> None:
    """Every number in the summary's sentences is a cell of a table on the page (or the
    date, the window or a gap between two shown medians): nothing that suppression hides."""
    cells = {c for rows in page_tables(html).values() for row in rows for c in row}
    shown = {n for c in cells for n in re.findall(r"\d+(?:\.\d+)?", c.replace(",", ""))}
    summary = _summary(html)
    text = _text(summary[summary.index("guardian-report-summary__grid"):])  # the answers
    medians = [float(n) for n in re.findall(r"(\d+\.\d) weeks", text)]
    gaps = {f"{abs(a - b):.1f}" for a in medians for b in medians}
    extra = {str(AS_OF.day), str(AS_OF.year), str(params.get("window", 26)),
             *(str(n) for n in reports.GROWING), "8"}  # "a median needs 8 or more"
    for age in bn.AGE_BANDS:
        extra |= set(re.findall(r"\d+", age))
    found = set(re.findall(r"\d+(?:\.\d+)?", text.replace(",", "")))
    assert found <= shown | gaps | extra, (params, found - shown - gaps - extra, text)


def test_the_summary_prints_only_numbers_its_tables_show(demo):
    signed_in(demo, "place-lead")
    for params in ({}, {"growing": 2, "window": 52}, {"by": "pcn_code", "qby": "provider"}):
        _only_shown_numbers(demo.get(report_url(**params)).text, params)


def test_the_summary_on_each_database(database_url, tmp_path):
    settings = Settings(database_url=database_url, var_dir=tmp_path / "var",
                        secret_key="test-secret-key")
    prepare(settings, patients=300, seed=4)
    with TestClient(create_app(settings, follow_events=False)) as client:
        signed_in(client, "place-lead")
        html = client.get(report_url(growing=2)).text
        assert html.index('id="summary"') < html.index("<table")
        assert len(re.findall(r'class="guardian-report-finding"', html)) == 4
        _only_shown_numbers(html, {"growing": 2})


def test_the_summary_is_the_pure_function_of_the_tables(demo):
    engine = demo.app.state.guardian.engine
    p = reports.Params(place=PLACE, as_of=AS_OF)
    with engine.connect() as conn:
        tables = reports.build(conn, p, tuple(reports.TABLES))
    expected = summarise(tables, p)
    signed_in(demo, "place-lead")
    text = _text(_summary(demo.get(report_url()).text))
    for finding in expected:
        for sentence in finding.sentences:
            assert sentence in text, sentence


def test_a_sections_fragment_brings_its_answer_along(demo):
    signed_in(demo, "place-lead")
    r = demo.get(report_url(by="provider"),
                 headers={"HX-Request": "true", "HX-Target": "stages-results"})
    assert r.status_code == 200
    answer = re.search(r'<div class="guardian-report-finding" id="summary-stages" '
                       r'hx-swap-oob="true">.*?</div>', r.text, re.S)
    assert answer and "by provider" in _text(answer.group(0))
    assert 'id="summary-queues"' not in r.text
    trend = demo.get(report_url(weeks=8),
                     headers={"HX-Request": "true", "HX-Target": "trend-results"})
    assert 'id="summary-' not in trend.text


def test_charts_come_before_tables_and_long_tables_fold(demo):
    signed_in(demo, "place-lead")
    html = demo.get(report_url(growing=2)).text
    for sid in SECTION_IDS:
        section = re.search(rf'<section class="guardian-report-section" id="{sid}".*?</section>',
                            html, re.S).group(0)
        if "<svg" in section and "<table" in section:
            assert section.index("<svg") < section.index("<table"), sid
    # a table with a chart is folded behind "Show the table", its rows all in the page
    folded = re.findall(r'<details class="nhsuk-details guardian-report-details" '
                        r'id="([a-z-]+)-details">', html)
    assert {"stage-durations", "breaches", "rtt-bands", "trend"} <= set(folded)
    assert len(page_tables(html)["trend"]) == 1 + 12
