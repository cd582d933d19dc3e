"""What a person reads on a page: the text of its elements, without scripts, styles or
attribute values (a form field's value may stay a code; what is shown may not)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# An ODS practice code (a letter and five digits; PCN codes are U and five digits).
PRACTICE_OR_PCN = re.compile(r"(?<![A-Za-z0-9-])[A-Z]\d{5}(?![A-Za-z0-9-])")


class _Text(HTMLParser):
    """The page's text; with `blocks`, a line break at each block element's edges (and the
    head left out), so that each heading, paragraph, list item, label or button is a line."""

    SKIP = {"script", "style", "template"}
    BLOCKS = {"address", "article", "aside", "button", "dd", "div", "dl", "dt", "fieldset",
              "figcaption", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
              "label", "legend", "li", "main", "nav", "ol", "p", "section", "summary",
              "table", "td", "th", "tr", "ul", "br", "option", "title"}

    def __init__(self, blocks: bool = False) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self.skip = self.SKIP | {"head"} if blocks else self.SKIP
        self.blocks = self.BLOCKS if blocks else frozenset()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.skip:
            self._skipping += 1
        elif tag in self.blocks:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.skip and self._skipping:
            self._skipping -= 1
        elif tag in self.blocks:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parts for parts in parser.parts)).strip()


def visible_lines(html: str) -> str:
    """What a person reads, a line per block element (a heading, a paragraph, a list item,
    a label, a button): the reading-age measure splits sentences at line ends."""
    parser = _Text(blocks=True)
    parser.feed(html)
    lines = (" ".join(line.split()) for line in "".join(parser.parts).split("\n"))
    return "\n".join(line for line in lines if line)


def bare_codes(text: str, names: dict[str, str], providers: set[str]) -> list[str]:
    """Each code in `text` that is not written as "its name (CODE)": practice and PCN
    codes by their shape, provider codes by the providers known (`providers`)."""
    found = []
    pattern = PRACTICE_OR_PCN.pattern
    if providers:
        alternatives = "|".join(sorted(providers, key=len, reverse=True))
        pattern += rf"|(?<![A-Za-z0-9-])(?:{alternatives})(?![A-Za-z0-9-])"
    for m in re.finditer(pattern, text):
        code = m.group(0)
        name = names.get(code)
        if name and text[:m.start()].endswith(f"{name} (") and text[m.end():].startswith(")"):
            continue
        found.append(f"{code}: …{text[max(0, m.start() - 60):m.end() + 20]}…")
    return found
