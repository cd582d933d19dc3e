"""The repository stands on its own: nothing tracked names or links documents that live
outside it, and every documentation path and rules section cited in it exists.

A clone has no sibling directories, so a citation of an outside document (or a link that
leaves the repository) is a dead end for its reader. Comments cite `docs/…` instead, e.g.
`docs/rules.md §3`, and the section numbers of docs/rules.md are fixed.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
THIS = Path(__file__).resolve().relative_to(ROOT).as_posix()
VENDOR = "guardian/web/static/vendor/"

# Names of documents outside the repository (matched without regard to case).
OUTSIDE_NAMES = (
    "../" + "shared",  # spelled in two parts, so this file does not name it itself
    "/work/shared",
    "domain-reference",
    "domain reference §",
    "CONTRACT.md",
    "USER-JOURNEYS",
    "ARCHITECTURE.md",
    "stack-notes",
    "stack notes",
)
ISSUE = re.compile(r"\bissue \d+\b", re.IGNORECASE)
# "the contract", "CONTRACT.md": the outside interface document (code cites docs/ instead)
CONTRACT = re.compile(r"\bcontract\b", re.IGNORECASE)
BARE_SECTION = re.compile(r"§\s*\d")
DOCS_PATH = re.compile(r"\bdocs/[\w./-]*?\.md\b")
# "docs/rules.md §3", "docs/rules.md §3, §4", "[`docs/rules.md`](docs/rules.md) §2"
RULES_CITATION = re.compile(
    r"docs/rules\.md[`)\]\"']*\s*((?:§\s*\d+(?:\s*(?:,|/|–|-|and)\s*)?)+)")
SECTION = re.compile(r"§\s*(\d+)")
RULES_HEADINGS = {
    1: "Counting days",
    2: "The standards",
    3: "Breaches",
    4: "At risk",
    5: "Clock stops, closures, new periods and leaving the list",
    6: "Week bands and the RTT export",
    7: "Working days",
    8: "Waiting Well check-ins",
    9: "Stages",
    10: "Codes and identifiers",
    11: "The worklist's urgency order",
}
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def tracked_text_files() -> dict[str, str]:
    """Every file git tracks (as it is in the working tree), by path, except binary files,
    files deleted in the working tree, and this test itself."""
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    out: dict[str, str] = {}
    for path in filter(None, listing.split("\0")):
        if path == THIS:
            continue
        try:
            data = (ROOT / path).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            continue
        if b"\0" in data:
            continue  # binary (PNG, ICO…)
        try:
            out[path] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
    return out


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    found = tracked_text_files()
    # Guard against a scan that would pass by seeing nothing (no git, wrong directory…).
    assert len(found) > 50, f"only {len(found)} tracked text files found under {ROOT}"
    for expected in ("README.md", "docs/rules.md", "guardian/cli/__init__.py",
                     "guardian/domain/standards/__init__.py", "examples/ptl-example.csv"):
        assert expected in found, f"{expected} is not among the tracked files"
    return found


def _ours(files: dict[str, str]) -> dict[str, str]:
    """The project's own files (vendored third-party front-end code excluded)."""
    return {p: t for p, t in files.items() if not p.startswith(VENDOR)}


def _where(text: str, start: int) -> int:
    return text.count("\n", 0, start) + 1


def test_nothing_names_a_document_outside_the_repository(files):
    problems = []
    for path, text in files.items():
        lowered = text.lower()
        for name in OUTSIDE_NAMES:
            at = lowered.find(name.lower())
            while at != -1:
                problems.append(f"{path}:{_where(text, at)}: names {name!r}")
                at = lowered.find(name.lower(), at + 1)
    assert not problems, "\n".join(problems)


def outside_references(text: str) -> list[tuple[int, str]]:
    """(line, what) for each citation in Python code of something no reader of the
    repository has: an issue number, "the contract", or a section sign that is not a
    docs/rules.md citation (a bare "§14"; the strategy's §5.1.1 aside)."""
    found = []
    for n, line in enumerate(text.splitlines(), start=1):
        found += [(n, m.group(0)) for m in ISSUE.finditer(line)]
        found += [(n, m.group(0)) for m in CONTRACT.finditer(line)]
        if BARE_SECTION.search(line) and "docs/rules.md" not in line \
                and "strategy" not in line:
            found.append((n, line.strip()))
    return found


def test_the_checks_catch_what_they_are_for():
    code = (
        '"""See domain reference §14."""\n'
        "# issue 5: the sweep\n"
        "# as the contract says\n"
        "# docs/rules.md §3, §4: a breach\n"
        "# the strategy's §5.1.1\n"
    )
    assert [n for n, _ in outside_references(code)] == [1, 2, 3]
    cited = [SECTION.findall(m.group(1)) for m in RULES_CITATION.finditer(code)]
    assert cited == [["3", "4"]]
    assert DOCS_PATH.findall("see docs/formats.md and docs/rules.md §2") == [
        "docs/formats.md", "docs/rules.md"]


def test_code_cites_no_issue_contract_or_bare_section(files):
    problems = [
        f"{path}:{n}: {what}"
        for path, text in _ours(files).items()
        if path.endswith(".py")
        for n, what in outside_references(text)
    ]
    assert not problems, "\n".join(problems)


def test_every_cited_docs_page_exists(files):
    cited = {
        (path, m.group(0), _where(text, m.start()))
        for path, text in _ours(files).items()
        for m in DOCS_PATH.finditer(text)
    }
    assert cited, "no docs/ citation found at all"
    missing = [f"{path}:{line}: {doc}" for path, doc, line in sorted(cited)
               if not (ROOT / doc).is_file()]
    assert not missing, "\n".join(missing)


def test_docs_rules_has_exactly_its_numbered_sections():
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    headings = {int(n): title.strip()
                for n, title in re.findall(r"^## §(\d+) (.+)$", text, re.MULTILINE)}
    assert headings == RULES_HEADINGS


def test_every_rules_section_cited_exists(files):
    sections = set(RULES_HEADINGS)
    cited = []
    for path, text in _ours(files).items():
        for m in RULES_CITATION.finditer(text):
            for n in SECTION.findall(m.group(1)):
                cited.append((path, _where(text, m.start()), int(n)))
    assert cited, "no docs/rules.md § citation found at all"
    wrong = [f"{path}:{line}: docs/rules.md §{n}" for path, line, n in cited
             if n not in sections]
    assert not wrong, "\n".join(wrong)


def test_markdown_links_stay_inside_the_repository(files):
    problems = []
    for path, text in _ours(files).items():
        if not path.endswith(".md"):
            continue
        base = (ROOT / path).parent
        for m in MARKDOWN_LINK.finditer(text):
            target = m.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a URL or an anchor in the same page
            resolved = (base / target.split("#", 1)[0]).resolve()
            where = f"{path}:{_where(text, m.start())}: {target}"
            if not resolved.is_relative_to(ROOT):
                problems.append(f"{where} leaves the repository")
            elif not resolved.exists():
                problems.append(f"{where} does not exist")
    assert not problems, "\n".join(problems)
