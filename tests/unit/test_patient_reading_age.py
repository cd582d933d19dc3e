"""What Guardian writes to patients reads at a reading age of about 9 (docs/notifications.md
"Patients"): the Flesch-Kincaid grade of the rendered letter and email, plus five years,
is at most 9; and every one says what to do if they get worse."""

from __future__ import annotations

import re

import pytest

from guardian.notifications.render import render

PATIENT = dict(given_name="Ada", family_name="Test", specialty="Cardiology",
               hospital="Mid and South Essex NHS Foundation Trust", received_on="2026-09-01",
               waited_text="12 weeks", median_text="14 weeks", p92_text="22 weeks",
               expected_sample=40, check_in_url="https://guardian.example/my",
               nhs_number="9990000018")


def syllables(word: str) -> int:
    word = re.sub(r"[^a-z]", "", word.lower())
    if not word:
        return 0
    n = len(re.findall(r"[aeiouy]+", word))
    if word.endswith("e") and n > 1 and not word.endswith("le"):
        n -= 1
    return max(1, n)


def reading_age(text: str) -> float:
    """Flesch-Kincaid grade + 5: the age of a reader in that school grade."""
    sentences = [s for s in re.split(r"[.!?]\s+|\n", text) if re.search(r"[A-Za-z]", s)]
    words = re.findall(r"[A-Za-z']+", text)
    grade = (0.39 * len(words) / len(sentences)
             + 11.8 * sum(syllables(w) for w in words) / len(words) - 15.59)
    return grade + 5


def test_the_measure_tells_plain_from_hard():
    assert reading_age("The cat sat on the mat. We will call you.") < 6
    assert reading_age("Notwithstanding considerable organisational complexity, "
                       "prioritisation methodologies necessitate comprehensive "
                       "re-evaluation.") > 15


@pytest.mark.parametrize("letter", [True, False])
@pytest.mark.parametrize("known", [True, False])
def test_the_check_in_letter_and_email_read_at_about_9(letter, known):
    rendered = render("patient-check-in", {**PATIENT, "letter": letter,
                                           "expected_known": known})
    assert reading_age(rendered.text) <= 9.0
    assert "111" in rendered.text and "999" in rendered.text
    assert "111" in rendered.html and "999" in rendered.html


@pytest.mark.parametrize("letter", [True, False])
def test_the_sign_in_code_reads_at_about_9(letter):
    rendered = render("sign-in-code", {**PATIENT, "letter": letter, "code": "482913",
                                       "sign_in_url": "https://guardian.example/my/code",
                                       "expires_at": "2026-12-13T10:00:00+00:00"})
    assert reading_age(rendered.text) <= 9.0
    assert "111" in rendered.text and "999" in rendered.text


@pytest.mark.parametrize("letter", [True, False])
def test_the_words_around_a_message_to_the_patient_read_at_about_9(letter):
    """The Guardian team writes the message itself; what Guardian puts around it (greeting,
    safety-netting, how to answer) is plain, whatever the message."""
    rendered = render("thread-message", {**PATIENT, "party": "patient", "letter": letter,
                                         "body": "We have asked the hospital for a date.",
                                         "hospital": "Mid and South Essex",
                                         "pathway_id": "P1", "practice": "A Practice"})
    assert reading_age(rendered.text) <= 9.0
    assert "111" in rendered.text and "999" in rendered.text
    how = "call your GP practice" if letter else "reply to this email"
    assert how in rendered.text
