"""The place report links its words to the glossary, in the whole page and in the report
block htmx swaps in alone (a block rendered alone imports the `term` macro itself)."""

from __future__ import annotations

from report_helpers import report_url, signed_in


def test_the_report_links_rtt_breaches_and_suppression_to_the_glossary(demo):
    signed_in(demo, "place-lead")
    page = demo.get(report_url()).text
    for anchor in ("rtt", "breached", "small-number-suppression"):
        assert f'href="/help/glossary#{anchor}"' in page, anchor
    block = demo.get(report_url(), headers={"HX-Request": "true", "HX-Target": ""})
    assert block.status_code == 200 and "<html" not in block.text
    assert 'href="/help/glossary#rtt"' in block.text
    assert 'href="/help/glossary#breached"' in block.text
