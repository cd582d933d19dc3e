"""Server-rendered charts: valid SVG, escaped labels, suppressed values never drawn."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from guardian.web.svg import SUPPRESSED_LABEL, bar_chart, line_chart

NS = "{http://www.w3.org/2000/svg}"


def test_bar_chart_draws_numbers_and_hides_suppressed():
    svg = bar_chart("Waits <by> PCN", [("North & Co", 40), ("Coast", "*"), ("Zero", 0)], " d")
    root = ET.fromstring(svg)  # well-formed, labels escaped
    assert root.find(f"{NS}title").text == "Waits <by> PCN"
    bars = root.findall(f"{NS}rect")
    assert len(bars) == 2  # "*" draws no bar
    assert float(bars[0].get("width")) > 0 and float(bars[1].get("width")) == 0
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert SUPPRESSED_LABEL in texts and "40 d" in texts
    assert "style=" not in svg  # the CSP allows no inline styles
    assert "Coast: fewer than 8" in root.find(f"{NS}desc").text


def test_line_chart_breaks_at_suppressed_points():
    svg = line_chart("Flow", ["w1", "w2", "w3", "w4"],
                     [("Inflow", "in", [10, 20, "*", 30]), ("Outflow", "out", [5, 5, 5, 5])])
    root = ET.fromstring(svg)
    lines = root.findall(f"{NS}polyline")
    assert len(lines) == 2  # inflow's one segment of two points (w1–w2); outflow whole
    assert len(lines[0].get("points").split()) == 2
    assert len(lines[1].get("points").split()) == 4
    assert len(root.findall(f"{NS}circle")) == 7
    assert "style=" not in svg
