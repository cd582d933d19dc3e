"""The words people read, checked against the service's style (NHS.UK content style):

- headings, labels, buttons, table headings and the label tables are in sentence case: a
  capital for the first word and for names (NHS, GP, PCN, Guardian, Waiting Well, places,
  months), nowhere else;
- "GP's" for one GP's thing, never "GPs'" ("the GPs practice" is a missing apostrophe);
- "check-in" as a noun, never "check in" or "checkin";
- an at-risk step says which step: no bare "Step at risk";
- "email", never "e-mail".

What is read: every template's text (headings, labels, legends, captions, buttons, table
headings, titles, and the labels passed to the form macros) and the label tables that
templates and the API show (`LABEL_TABLES`). Treatment functions keep their NHS Data
Dictionary names, which are capitalised.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from guardian.domain import codes
from guardian.domain.standards.stages import STAGE_LABELS
from guardian.projections.bottlenecks.model import DIMENSION_LABELS, KIND_LABELS
from guardian.projections.worklist import FILTER_LABELS, SORT_LABELS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "guardian" / "web" / "templates"

LABEL_TABLES = {
    "worklist FILTER_LABELS": FILTER_LABELS, "worklist SORT_LABELS": SORT_LABELS,
    "standards STAGE_LABELS": STAGE_LABELS, "bottlenecks KIND_LABELS": KIND_LABELS,
    "bottlenecks DIMENSION_LABELS": DIMENSION_LABELS,
    "codes CLOCK_STOP_REASONS": codes.CLOCK_STOP_REASONS,
    "codes DIAGNOSTIC_TESTS": codes.DIAGNOSTIC_TESTS,
    "codes SUPPORT_KINDS": codes.SUPPORT_KINDS,
    "codes CONTACT_CHANNELS": codes.CONTACT_CHANNELS,
    "codes DIAGNOSIS_OUTCOMES": codes.DIAGNOSIS_OUTCOMES,
    "codes CHECK_IN_OUTCOMES": codes.CHECK_IN_OUTCOMES,
    "codes REVIEW_OUTCOMES": codes.REVIEW_OUTCOMES,
    "codes CLOSE_REASONS": codes.CLOSE_REASONS,
}
# Tables of words read inside a sentence ("via the GP practice"): every rule but the
# capital at the start.
IN_SENTENCE_TABLES = {
    "codes RTT_STATUS": codes.RTT_STATUS, "codes PRIORITIES": codes.PRIORITIES,
    "codes MESSAGE_PARTIES": codes.MESSAGE_PARTIES,
    "codes WORKUP_OWNERS": codes.WORKUP_OWNERS,
    "codes DETERIORATION_SOURCES": codes.DETERIORATION_SOURCES,
}

# Names keep their capitals wherever they stand in a label.
NAMES = (
    "NHS e-Referral Service", "Faster Diagnosis Standard", "Waiting Well", "Guardian",
    "Mid and South Essex", "South East Essex", "Mid Essex", "Basildon and Brentwood",
    "Thurrock", "Swagger", "OpenAPI", "England", "Wales",
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
)


# ---------------------------------------------------------------------------- reading


JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
TAG = re.compile(r"<[^>]+>")
ELEMENTS = ("h1", "h2", "h3", "h4", "legend", "label", "th", "caption", "button", "summary",
            "title", "dt")
ELEMENT = re.compile(r"<(" + "|".join(ELEMENTS) + r")\b[^>]*>(.*?)</\1>", re.S | re.I)
TITLE_BLOCK = re.compile(r"\{%-?\s*block title\s*-?%\}(.*?)\{%-?\s*endblock", re.S)
# The label argument of the form macros: text_input("name", "Label", …), select_field(…).
MACRO_LABEL = re.compile(r'\b(?:text_input|select_field|action_form)\(\s*"[^"]*"\s*,\s*"([^"]+)"')
PIECES = re.compile(r"\{%.*?%\}|<strong\b[^>]*>|</strong>", re.S)
# What screen readers hear before a message ("Error: Sign in"), as the NHS.UK components do.
PREFIX = re.compile(r"^(Error|Important|Information|Success|Warning): ")
NHS_COMPONENT_WORDS = {"Browse More"}  # the NHS.UK header's own menu button
BUTTON_LINK = re.compile(r'<a\b[^>]*class="[^"]*nhsuk-button[^"]*"[^>]*>(.*?)</a>', re.S)


def visible(fragment: str) -> str:
    """A fragment's words as read: Jinja and tags removed, spaces collapsed. What Jinja
    prints is unknown here, so each {{ … }} reads as a placeholder word, "X"."""
    text = re.sub(r"\{\{.*?\}\}", " X ", fragment, flags=re.S)
    text = JINJA.sub(" ", text)
    text = TAG.sub(" ", text)
    return " ".join(text.replace("&nbsp;", " ").replace("&amp;", "&").split())


def template_labels() -> Iterator[tuple[str, str]]:
    """(where, text) of every heading, label, button … of every template."""
    for path in sorted(TEMPLATES.glob("*.html")):
        source = path.read_text()
        found = [m.group(2) for m in ELEMENT.finditer(source)]
        found += TITLE_BLOCK.findall(source) + MACRO_LABEL.findall(source)
        found += BUTTON_LINK.findall(source)
        for fragment in found:
            # each branch of an {% if %} and each tag inside a heading is a label of its own
            for n, piece in enumerate(PIECES.split(fragment)):
                text = PREFIX.sub("", visible(piece))
                if text and text != "X" and text not in NHS_COMPONENT_WORDS:
                    # a piece after the first may go on a sentence: its first word is free
                    yield path.name, text if n == 0 else "X " + text


def template_texts() -> Iterator[tuple[str, str]]:
    """(where, text) of each template's whole readable text, line by line."""
    for path in sorted(TEMPLATES.glob("*.html")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            text = visible(line)
            if text:
                yield f"{path.name}:{n}", text


def template_strings() -> Iterator[tuple[str, str]]:
    """(where, text) of the words inside template expressions: "…" literals with a space."""
    for path in sorted(TEMPLATES.glob("*.html")):
        for expression in JINJA.findall(path.read_text()):
            for literal in re.findall(r'"([^"{}<>]*\s[^"{}<>]*)"', expression):
                yield path.name, literal


def table_labels() -> Iterator[tuple[str, str]]:
    for name, table in LABEL_TABLES.items():
        for code, text in table.items():
            yield f"{name}[{code!r}]", text


# Python modules whose strings people read on a page: the web app's messages, the audit
# log's words, account errors shown on the user pages, the patient's history.
READ_MODULES = (*sorted((ROOT / "guardian" / "web").rglob("*.py")),
                ROOT / "guardian" / "audit.py", *sorted((ROOT / "guardian" / "users").glob("*.py")),
                ROOT / "guardian" / "projections" / "timeline.py")


def python_strings() -> Iterator[tuple[str, str]]:
    """(where, text) of the string literals of READ_MODULES, but docstrings."""
    for path in READ_MODULES:
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                           ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and id(node) not in docstrings:
                yield f"{path.relative_to(ROOT)}:{node.lineno}", node.value


def history_names() -> Iterator[tuple[str, str]]:
    """The words of the events the patient's history tells by their class name (those it
    has no sentence for)."""
    from guardian.domain.patient import events as ev
    from guardian.projections import timeline

    told = set(re.findall(r"case ev\.(\w+)\(", Path(timeline.__file__).read_text()))
    for cls in ev.STORED.values():
        if cls.__name__ not in told:
            yield f"timeline of {cls.__name__}", timeline._humanise(cls.__name__)


def all_words() -> Iterator[tuple[str, str]]:
    yield from template_texts()
    yield from template_strings()
    yield from template_labels()
    yield from python_strings()
    yield from history_names()
    yield from table_labels()
    for name, table in IN_SENTENCE_TABLES.items():
        for code, text in table.items():
            yield f"{name}[{code!r}]", text


# ---------------------------------------------------------------------------- rules


def not_sentence_case(text: str) -> list[str]:
    """The words of a label capitalised against sentence case (empty when it is fine)."""
    for name in NAMES:
        text = text.replace(name, "")
    wrong = []
    # A new sentence (after . ! ? or a line's start) may start with a capital.
    for sentence in re.split(r"(?<=[.!?…])\s+|\s+[–—]\s+(?=[A-Z])", text):
        words = re.findall(r"[A-Za-z][A-Za-z'’\-]*", sentence)
        if words and words[0] == "X":  # a template's value, then the label's first word
            words = words[1:]
        for word in words[1:]:
            if not word[0].isupper() or word == "I":
                continue
            if word.isupper() or re.match(r"^[A-Z]{2,}", word):  # NHS, GP's, PCNs, RTT, MRI
                continue
            if word == "X":  # what a template prints
                continue
            wrong.append(word)
    return wrong


def first_letter_problem(text: str) -> bool:
    """A label starting in lower case (but "e-Referral" and what a template prints)."""
    first = re.search(r"[A-Za-z]", text)
    return (first is not None and first.group().islower() and not text.startswith("X ")
            and not text.startswith("e-"))


RULES = {
    "GPs' (say GP's: one GP's practice)": re.compile(r"\bGPs['’]"),
    "GPs as a possessive (say GP's)": re.compile(
        r"\bGPs (practice|surgery|patients|page|list|status|overview)\b"),
    "check in / checkin as a noun (say check-in)": re.compile(
        r"\b(checkin|checkins)\b|\bcheck ?in (due|outcome|dates?|milestones?)\b"
        r"|\b(a|the|each|next|open|last|Waiting Well) check in\b", re.I),
    "bare Step at risk (say which step)": re.compile(r"\bStep at risk\b", re.I),
    "e-mail (say email)": re.compile(r"\be-mail", re.I),
}


# ---------------------------------------------------------------------------- tests


def test_headings_labels_and_buttons_are_in_sentence_case():
    wrong = {}
    for where, text in [*template_labels(), *table_labels()]:
        words = not_sentence_case(text)
        if words or first_letter_problem(text):
            wrong.setdefault(where, []).append(f"{text!r}: {', '.join(words) or 'first word'}")
    assert not wrong, "not in sentence case:\n" + "\n".join(
        f"  {where}: {'; '.join(found)}" for where, found in sorted(wrong.items()))


@pytest.mark.parametrize("rule", list(RULES))
def test_house_words(rule):
    pattern = RULES[rule]
    found = [f"  {where}: {text!r}" for where, text in all_words() if pattern.search(text)]
    assert not found, f"{rule}:\n" + "\n".join(found)


def test_the_checks_catch_what_they_are_for():
    """Each rule finds the mistake it is for and passes the right wording."""
    assert not_sentence_case("Waiting list Type") == ["Type"]
    assert not_sentence_case("Find a patient by NHS number or UBRN") == []
    assert not_sentence_case("Waiting Well check-in due on 3 March") == []
    assert not_sentence_case("Breached. Step Two") == ["Two"]
    assert first_letter_problem("at risk") and not first_letter_problem("At risk")
    for rule, bad, good in (
            ("GPs' (say GP's: one GP's practice)", "The GPs' patients", "The GP's patients"),
            ("GPs as a possessive (say GP's)", "Your GPs practice", "GPs and coordinators"),
            ("check in / checkin as a noun (say check-in)", "Check in due", "Check-in due"),
            ("check in / checkin as a noun (say check-in)", "the next checkin",
             "please check in with the patient"),
            ("bare Step at risk (say which step)", "Step at risk", "At risk: 18 weeks"),
            ("e-mail (say email)", "E-mail address", "Email address")):
        assert RULES[rule].search(bad) and not RULES[rule].search(good), rule
