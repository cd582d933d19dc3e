"""The code stays easy to find one's way in: modules small enough to read, each saying what
it owns, and every package named in the README's layout (README.md, "Layout")."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "guardian"
MOST_LINES = 500


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "vendor" not in p.parts)


def packages() -> list[Path]:
    return sorted(p.parent for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE)


def test_no_module_is_over_500_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in modules()
            if (n := len(p.read_text().splitlines())) > MOST_LINES}
    assert long == {}


def test_every_module_opens_with_a_docstring_saying_what_it_owns() -> None:
    bare = [str(p.relative_to(ROOT)) for p in modules()
            if not (ast.get_docstring(ast.parse(p.read_text())) or "").strip()]
    assert bare == []


def test_the_readme_layout_names_every_package() -> None:
    readme = (ROOT / "README.md").read_text()
    layout = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"guardian/[\w/]+/", layout))
    missing = [f"{p.relative_to(ROOT)}/" for p in packages()
               if f"{p.relative_to(ROOT)}/" not in named]
    assert missing == []
