"""The one text rule (guardian/domain/text.py): what no value may hold, one limit per kind."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardian.domain.errors import InvalidValue
from guardian.domain.text import LIMITS, MULTILINE, check, problem

NEVER = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20),
                          *range(0x7F, 0xA0)]] + ["\ud800", "\udbff", "\udc00", "\udfff"]


@pytest.mark.parametrize("kind", sorted(LIMITS))
def test_no_kind_takes_a_control_character_or_a_lone_surrogate(kind):
    for char in NEVER:
        assert problem(f"a{char}b", kind) is not None, (kind, hex(ord(char)))
    assert "U+0000" in problem("\x00", kind)
    assert "lone surrogate (U+D800)" in problem("\ud800", kind)


@pytest.mark.parametrize("kind", sorted(LIMITS))
def test_only_free_text_takes_tabs_and_line_breaks(kind):
    for char in "\t\n\r":
        assert (problem(f"a{char}b", kind) is None) == (kind in MULTILINE)


@pytest.mark.parametrize("kind", sorted(LIMITS))
def test_each_kind_has_one_length_limit(kind):
    assert problem("é" * LIMITS[kind], kind) is None
    assert f"at most {LIMITS[kind]}" in problem("é" * (LIMITS[kind] + 1), kind)


def test_printable_text_of_any_script_passes():
    assert problem("Siân O'Brien-Łukasz 山田 👩‍⚕️ \u00a0\u200b") is None


def test_check_names_the_field():
    assert check("RAJ", "identifier", "provider") == "RAJ"
    with pytest.raises(InvalidValue, match="^provider contains a control") as e:
        check("R\x00J", "identifier", "provider")
    assert e.value.field == "provider"


@given(st.text(st.characters(exclude_categories=()) | st.sampled_from([*NEVER, "\t", "\n"]))
       | st.builds(lambda c, n: c * n, st.characters(), st.integers(1, 2100)),
       st.sampled_from(sorted(LIMITS)))
def test_a_value_passes_exactly_when_it_holds_nothing_refused_and_fits(value, kind):
    allowed_space = "\t\n\r" if kind in MULTILINE else ""
    clean = all(c not in NEVER and not "\ud800" <= c <= "\udfff"  # any lone surrogate
                and (c not in "\t\n\r" or c in allowed_space) for c in value)
    assert (problem(value, kind) is None) == (clean and len(value) <= LIMITS[kind])
