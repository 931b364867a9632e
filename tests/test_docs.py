"""The user docs explain every rule id, and every link in them leads somewhere inside the
repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.protocol.rules import RULES, doc_anchor

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", *DOCS]
PROTOCOL_DOC = ROOT / "docs" / "protocol.md"

LINK = re.compile(r"\]\(([^)\s]+)\)")
ANCHOR = re.compile(r'<a id="([^"]+)"')
RULE_ANCHOR = re.compile(r'<a id="rule-([^"]+)"')
#: Places outside the repository the docs once pointed to.
OUTSIDE = ("../shared", "shared/PROTOCOL", "shared/seeds", "PROTOCOL.md", "/work/")


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    found = set(ANCHOR.findall(text))
    found |= {slug(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.M)}
    return found


def test_every_rule_id_has_a_section() -> None:
    sections = set(RULE_ANCHOR.findall(PROTOCOL_DOC.read_text(encoding="utf-8")))
    missing = sorted(set(RULES) - sections)
    assert not missing, f"docs/protocol.md has no section for rule(s) {missing}"


def test_every_rule_section_is_a_rule_the_code_knows() -> None:
    sections = RULE_ANCHOR.findall(PROTOCOL_DOC.read_text(encoding="utf-8"))
    unknown = sorted(set(sections) - set(RULES))
    assert not unknown, f"docs/protocol.md explains rule(s) {unknown} not in RULES"
    assert len(sections) == len(set(sections)), "a rule has two sections"


def test_doc_anchor_names_the_rules_section() -> None:
    page, _, fragment = doc_anchor("3.state").partition("#")
    assert (ROOT / page) == PROTOCOL_DOC
    assert fragment in anchors(PROTOCOL_DOC)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_resolve_inside_the_repository(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
        elif not dest.exists():
            broken.append(f"{target}: no such file")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{target}: no such anchor")
    assert not broken, f"{page.name}: " + "; ".join(broken)


def repository_texts() -> list[Path]:
    """The repository's source and text files (this test's own list of strings aside)."""
    roots = ["harness", "tests", "benchmarks", "locustfiles", "corpora", ".ci"]
    suffixes = {".py", ".md", ".toml", ".txt", ".json", ".html", ".example", ""}
    files = [ROOT / "pyproject.toml", ROOT / "asrx.toml.example"]
    for root in roots:
        files += [
            p
            for p in (ROOT / root).rglob("*")
            if p.is_file() and p.suffix in suffixes and "__pycache__" not in p.parts
        ]
    return [p for p in files if p.resolve() != Path(__file__).resolve()]


def test_nothing_cites_the_protocol_reading_outside_the_repository() -> None:
    """Code, help texts and reports point to docs/protocol.md, not to a file users lack."""
    citing = sorted(
        str(p.relative_to(ROOT))
        for p in repository_texts()
        if any(s in p.read_text(encoding="utf-8", errors="replace") for s in OUTSIDE)
    )
    assert not citing, f"{len(citing)} file(s) cite {OUTSIDE}: {citing}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_docs_point_nowhere_outside(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    hits = [s for s in OUTSIDE if s in text]
    assert not hits, f"{page.name} cites {hits}: the protocol reading is docs/protocol.md"
