"""README.md and docs/*.md: every relative link and image resolves, every #anchor names a heading (GitHub's slugs),
every docs page is reachable from the README, and the README stays a front door (at most 200 lines)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def _outside_fences(path: Path) -> list[str]:
    lines, fenced = [], False
    for line in path.read_text().splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: link text only, lower case, punctuation but `-` and `_` dropped, spaces to `-`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    """Each heading's slug; a repeated slug gets -1, -2, ..."""
    anchors, seen = set(), {}
    for line in _outside_fences(path):
        if heading := re.match(r"^#{1,6}\s+(.*?)(\s+#+)?\s*$", line):
            slug = _slug(heading.group(1))
            anchors.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
            seen[slug] = seen.get(slug, 0) + 1
    return anchors


def _links(path: Path) -> list[str]:
    """Targets of links and images outside code (fenced blocks and inline spans), but web and mail addresses."""
    return [target for line in _outside_fences(path) for target in LINK.findall(re.sub(r"`[^`]*`", "", line))
            if not re.match(r"(https?|mailto):", target)]


@pytest.mark.unit
def test_every_relative_link_and_anchor_resolves():
    problems, count = [], 0
    for page in PAGES:
        for target in _links(page):
            count += 1
            file, _, anchor = target.partition("#")
            dest = (page.parent / file).resolve() if file else page
            if not dest.exists():
                problems.append(f"{page.relative_to(ROOT)}: {target}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
                problems.append(f"{page.relative_to(ROOT)}: {target}: no heading #{anchor} in {dest.name}")
    assert problems == []
    assert count > len(PAGES)  # the check must not pass by finding nothing


@pytest.mark.unit
def test_the_readme_is_a_front_door_to_every_docs_page():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in _links(ROOT / "README.md")}
    assert [p.name for p in PAGES[1:] if p.resolve() not in linked] == []


@pytest.mark.unit
def test_slugs_follow_github():
    assert _slug("Faults (`test_faults.py`, `bench/faults.py`)") == "faults-test_faultspy-benchfaultspy"
    assert _slug("Using the UI: replay, backfills, schedule, dashboard") == "using-the-ui-replay-backfills-schedule-dashboard"
    assert _slug("A full rebuild (`full_refresh`)") == "a-full-rebuild-full_refresh"
