"""NHS number (Modulus 11), UBRN and ODS code shapes; the patient id."""

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardian.domain.errors import InvalidValue
from guardian.domain.identifiers import (
    format_nhs_number,
    is_valid_nhs_number,
    nhs_check_digit,
    normalise_nhs_number,
    normalise_practice_code,
    normalise_provider_code,
    normalise_ubrn,
    patient_id,
)


def test_the_published_worked_example_is_valid():
    # docs/rules.md §10: 943 476 5919, sum 299, 299 mod 11 = 2, check 9
    assert nhs_check_digit("943476591") == 9
    assert normalise_nhs_number("943 476 5919") == "9434765919"


def test_check_digit_of_eleven_is_zero_and_ten_is_invalid():
    # find nine digits whose remainder is 0 (check 11 → 0) and 1 (check 10 → invalid)
    zero = next(f"999{i:06d}" for i in range(10**6) if nhs_check_digit(f"999{i:06d}") == 0)
    assert is_valid_nhs_number(zero + "0")
    ten = next(
        f"999{i:06d}" for i in range(10**6)
        if sum(int(d) * w for d, w in zip(f"999{i:06d}", range(10, 1, -1), strict=True)) % 11 == 1
    )
    assert nhs_check_digit(ten) is None
    assert not any(is_valid_nhs_number(ten + str(d)) for d in range(10))


@pytest.mark.parametrize("bad", ["999526018", "99952601821", "999526018X", "9995260183", ""])
def test_bad_nhs_numbers_are_named(bad):
    with pytest.raises(InvalidValue, match="NHS number"):
        normalise_nhs_number(bad)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_exactly_one_check_digit_is_valid_unless_none(nine):
    valid = [d for d in range(10) if is_valid_nhs_number(nine + str(d))]
    assert valid == ([] if nhs_check_digit(nine) is None else [nhs_check_digit(nine)])


def test_format_is_three_three_four():
    assert format_nhs_number("9434765919") == "943 476 5919"


def test_codes():
    assert normalise_provider_code(" raj ") == "RAJ"
    assert normalise_practice_code("f81001") == "F81001"
    assert normalise_ubrn("000123456789") == "000123456789"
    for fn, bad in ((normalise_provider_code, "R"), (normalise_practice_code, "F8100"),
                    (normalise_ubrn, "12345")):
        with pytest.raises(InvalidValue):
            fn(bad)


def test_patient_id_depends_on_the_deployment_namespace():
    a, b = uuid.uuid4(), uuid.uuid4()
    assert patient_id(a, "9434765919") == patient_id(a, "9434765919")
    assert patient_id(a, "9434765919") != patient_id(b, "9434765919")
