"""How the text of a patient search is read (guardian/projections/search_terms.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from guardian.projections.search_terms import (
    TOO_LONG,
    TOO_SHORT,
    BadSearch,
    Name,
    birth_date,
    name_key,
    parse,
    prefix_end,
)


def test_an_nhs_number_with_or_without_spaces():
    for typed in ("9434765919", "943 476 5919", " 943-476-5919 "):
        terms = parse(typed)
        assert terms.nhs_number == "9434765919" and terms.kind == "NHS number"
        assert terms.names == () and terms.problem is None


def test_a_partial_nhs_number_is_no_error_but_says_what_is_wrong():
    terms = parse("943 476")
    assert terms.nhs_number is None and terms.ubrn is None and terms.names == ()
    assert terms.problem == "An NHS number has 10 digits and a UBRN 12: “943 476” has 6."
    assert terms.pathway_ids == ("943 476",)  # a provider's pathway id may be digits


def test_a_malformed_nhs_number_fails_its_check_digit():
    terms = parse("943 476 5918")
    assert terms.nhs_number is None
    assert "not a valid NHS number: its check digit does not match" in terms.problem


def test_a_ubrn_is_twelve_digits():
    terms = parse("1234 5678 9012")
    assert terms.ubrn == "123456789012" and terms.kind == "UBRN"


def test_a_pathway_id_is_tried_as_typed_and_in_capitals():
    terms = parse("demo5-000072-1")
    assert terms.pathway_ids == ("demo5-000072-1", "DEMO5-000072-1")
    assert terms.names == () and terms.kind == "pathway id"


@pytest.mark.parametrize("typed,key", [
    ("O'Brien", "obrien"), ("O’Brien", "obrien"), ("o brien", "obrien"),
    ("Ní Bhriain", "nibhriain"), ("NI BHRIAIN", "nibhriain"), ("Smith-Jones", "smithjones"),
    ("Zoë", "zoe"), ("Łukasz", "łukasz"), ("Straße", "strasse"),
])
def test_name_keys_ignore_case_accents_apostrophes_hyphens_and_spaces(typed, key):
    assert name_key(typed) == key


def test_apostrophes_and_accents_in_a_search():
    assert parse("O'Brien").names[0] == Name("obrien")
    assert Name("nibhriain") in parse("Ní Bhriain").names  # the whole of it a family name


def test_a_family_and_a_given_name_either_way_round_or_with_a_comma():
    both = {Name("okafor", "grace"), Name("grace", "okafor")}
    assert set(parse("Okafor Grace").names) == both | {Name("okaforgrace")}
    assert set(parse("Grace Okafor").names) == both | {Name("graceokafor")}
    assert parse("Okafor, Grace").names == (Name("okafor", "grace"),)
    assert parse("Smith-Jones, Mary Ann").names == (Name("smithjones", "maryann"),)
    assert parse("Okafor Grace").kind == "name"


def test_a_family_name_with_a_date_of_birth():
    for typed in ("Okafor 14/03/1958", "14-03-1958 Okafor", "Okafor 1958-03-14",
                  "okafor, 14.3.1958"):
        terms = parse(typed)
        assert terms.birth_date == dt.date(1958, 3, 14), typed
        assert Name("okafor") in terms.names
        assert terms.kind == "family name and date of birth"


def test_a_bad_or_lone_date_of_birth_says_so():
    assert "is not a date" in parse("Okafor 31/02/1958").problem
    assert "is not a date" in parse("Okafor 14/03/58").problem  # which century?
    alone = parse("14/03/1958")
    assert alone.names == () and "Add the family name" in alone.problem
    assert "one date of birth" in parse("Okafor 14/03/1958 15/03/1958").problem


def test_too_short_or_too_long_cannot_be_searched():
    for typed in (None, "", "  ", "a"):
        with pytest.raises(BadSearch) as e:
            parse(typed)
        assert e.value.message == TOO_SHORT
    with pytest.raises(BadSearch) as e:
        parse("x" * 101)
    assert e.value.message == TOO_LONG


def test_dates_people_write():
    assert birth_date("1/2/1950") == dt.date(1950, 2, 1)
    assert birth_date("1950-02-01") == dt.date(1950, 2, 1)
    assert birth_date("1950") is None and birth_date("32/01/1950") is None


def test_a_prefix_range_holds_every_key_that_begins_with_it():
    end = prefix_end("smith")
    for key in ("smith", "smithjones", "smithz", "smithł"):
        assert "smith" <= key < end
    assert end <= "smiti"
