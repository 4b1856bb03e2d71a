"""The repository explains itself: its Markdown links resolve, and nothing
points outside it.

Every relative link of every Markdown file (tracked, or new and not
ignored: ``node_modules``, ``.venv`` and ``.stack*`` never count) must name
a file or folder that exists; a ``#fragment`` into a Markdown file must name
one of its headings, slugged as GitHub does. No file of the repository may
refer to the design folder outside it.

Run: ``.venv/bin/python -m pytest -q tests/docs``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import unicodedata
from pathlib import Path
from urllib.parse import unquote

import pytest

REPO = Path(__file__).resolve().parents[2]
EXCLUDED_DIRS = {"node_modules", ".venv", ".git"}
#: Strings no file may contain, split so that this file does not contain them.
FORBIDDEN = ("../" + "shared", "CONTRACT" + ".md")

FENCE = re.compile(r"^ {0,3}(```|~~~)")
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t]*#*[ \t]*$")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
# [text](target "title") and ![alt](target); the text may hold one level of [...].
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)(?:\s+[\"'(][^)]*)?\s*\)")
REFERENCE_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HTML_ID = re.compile(r"""<[^>]+\b(?:id|name)\s*=\s*["']([^"']+)["']""")
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def repository_files() -> list[Path]:
    """Files of the repository: tracked, plus untracked ones git does not ignore."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO, check=True, capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: walk the tree
        return sorted(
            p for p in REPO.rglob("*")
            if p.is_file() and not any(part in EXCLUDED_DIRS or part.startswith(".stack")
                                       for part in p.relative_to(REPO).parts)
        )
    paths = {REPO / name for name in out.decode("utf-8", "surrogateescape").split("\0") if name}
    return sorted(
        p for p in paths
        if p.is_file() and not any(part in EXCLUDED_DIRS or part.startswith(".stack")
                                   for part in p.relative_to(REPO).parts)
    )


def markdown_files() -> list[Path]:
    return [p for p in repository_files() if p.suffix.lower() == ".md"]


def prose_lines(text: str):
    """Yield (line number, line) outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if match:
            if fence is None:
                fence = match.group(1)
            elif line.strip().startswith(fence):
                fence = None
            continue
        if fence is None:
            yield number, line


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: the rendered text lower-cased,
    punctuation other than ``-`` and ``_`` dropped, spaces turned into ``-``."""
    text = INLINE_CODE.sub(lambda m: m.group(2), heading)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("*", "")
    text = text.strip().lower()
    kept = []
    for char in text:
        if char in "-_ " or unicodedata.category(char)[0] in "LNM":
            kept.append(char)
    return "".join(kept).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every ``#fragment`` a link may use into the Markdown file ``path``."""
    seen: dict[str, int] = {}
    found = set()
    text = path.read_text(encoding="utf-8")
    for _, line in prose_lines(text):
        found.update(HTML_ID.findall(line))
        match = HEADING.match(line)
        if not match:
            continue
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links(path: Path):
    """Yield (line number, target) of every link in the Markdown file ``path``."""
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        definition = REFERENCE_DEFINITION.match(line)
        if definition:
            yield number, definition.group(1).strip("<>")
            continue
        line = INLINE_CODE.sub("", line)
        for match in INLINE_LINK.finditer(line):
            yield number, match.group(1).strip("<>")


def broken_links(path: Path) -> list[str]:
    problems = []
    for number, target in links(path):
        if not target or SCHEME.match(target) or target.startswith("//"):
            continue  # external (https:, mailto:, ...) or empty
        where = f"{path.relative_to(REPO)}:{number}: {target}"
        file_part, _, fragment = target.partition("#")
        file_part = unquote(file_part.split("?", 1)[0])
        if file_part.startswith("/"):
            problems.append(f"{where}: absolute path (write it relative to the file)")
            continue
        resolved = (path.parent / file_part).resolve() if file_part else path
        if not resolved.exists():
            problems.append(f"{where}: no such file")
            continue
        try:
            resolved.relative_to(REPO)
        except ValueError:
            problems.append(f"{where}: points outside the repository")
            continue
        if fragment and resolved.is_file() and resolved.suffix.lower() == ".md":
            if unquote(fragment).lower() not in anchors(resolved):
                problems.append(f"{where}: no heading #{fragment} in {resolved.relative_to(REPO)}")
    return problems


MARKDOWN = markdown_files()


def test_markdown_files_are_found():
    names = {p.relative_to(REPO).as_posix() for p in MARKDOWN}
    assert {"README.md", "docs/interface.md"} <= names
    assert not any("node_modules" in n or n.startswith((".venv/", ".stack")) for n in names)


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(path: Path):
    assert broken_links(path) == []


def test_no_file_points_outside_the_repository():
    offenders = []
    for path in repository_files():
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for needle in FORBIDDEN:
            if needle.encode() in data:
                offenders.append(f"{path.relative_to(REPO)}: {needle}")
    assert offenders == []


# A citation in code or prose: docs/page.md, optionally followed by a section
# heading ('docs/interface.md, "Tokens"', 'docs/gateway.md ("Routes"') or, after
# a colon, a quotation ('docs/interface.md: "at most 10 s"').
CITATION = re.compile(r"""(?<![\w./-])docs/([\w.-]+\.md)(?:'s)?(?:(:)?[ \t,]*(?:\n[ \t#*/-]*)?\(?\s*"([^"\n]{1,80}(?:\n[^"\n]{0,80}){0,2})")?""")
WRAPPED = re.compile(r"\s*\n\s*(?:#+|\*|//|--)?\s*")


def _plain(text: str) -> str:
    """Text as a reader sees it: no line wrapping, comment markers or backticks."""
    return " ".join(WRAPPED.sub(" ", text).replace("`", "").split()).lower()


def citation_problems(path: Path) -> list[str]:
    """Citations of docs/ pages in ``path`` that name a missing page, heading or quotation."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    problems = []
    for match in CITATION.finditer(text):
        page, colon, quoted = match.group(1), match.group(2), match.group(3)
        line = text.count("\n", 0, match.start()) + 1
        where = f"{path.relative_to(REPO)}:{line}: docs/{page}"
        target = REPO / "docs" / page
        if not target.is_file():
            problems.append(f"{where}: no such page")
            continue
        if not quoted:
            continue
        if colon:
            if _plain(quoted) not in _plain(target.read_text(encoding="utf-8")):
                problems.append(f'{where}: "{quoted}" is not said there')
        elif github_slug(_plain(quoted)) not in anchors(target):
            problems.append(f'{where}: no heading "{quoted}"')
    return problems


def test_citations_name_existing_pages_and_sections():
    problems = []
    for path in repository_files():
        if path.suffix.lower() in (".png", ".jpg", ".ico", ".woff", ".woff2", ".gz", ".zip", ".pem"):
            continue
        if path.is_relative_to(Path(__file__).parent):  # this folder's examples are made up
            continue
        problems.extend(citation_problems(path))
    assert problems == []


# --- the checker itself -------------------------------------------------------


@pytest.mark.parametrize("heading, slug", [
    ("Revocation within 5 seconds", "revocation-within-5-seconds"),
    ("CLI (bootstrapping without the UI)", "cli-bootstrapping-without-the-ui"),
    ("The API client (`src/api/client.js`)", "the-api-client-srcapiclientjs"),
    ("Single-flight refresh, within the tab and across tabs", "single-flight-refresh-within-the-tab-and-across-tabs"),
    ("Services behind the gateway (turn 2)", "services-behind-the-gateway-turn-2"),
    ("**Bold** and [a link](x.md)", "bold-and-a-link"),
    ("snake_case stays", "snake_case-stays"),
])
def test_github_slug(heading, slug):
    assert github_slug(heading) == slug


def test_checker_finds_broken_links_and_anchors(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\n## Same\n\n## Same\n", encoding="utf-8")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/a.md) [ok](docs/a.md#same-1) [ok](docs/) [ok](#top) [ext](https://example.com/x)\n"
        "`[not a link](missing.md)`\n"
        "```\n[in a fence](missing.md)\n```\n"
        "[gone](docs/b.md) [bad anchor](docs/a.md#nope) [abs](/docs/a.md)\n"
        "[ref]: docs/c.md\n"
        "# Top\n",
        encoding="utf-8",
    )
    problems = broken_links(page)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "docs/b.md: no such file",
        "docs/a.md#nope: no heading #nope in docs/a.md",
        "/docs/a.md: absolute path (write it relative to the file)",
        "docs/c.md: no such file",
    ]


def test_checker_finds_bad_citations(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A\n\n## Browser login\n\nTokens live at most\n10 s.\n",
                                             encoding="utf-8")
    code = tmp_path / "m.py"
    code.write_text(
        '"""See docs/a.md, "Browser login" step 1, and docs/a.md ("Browser\n    login").\n'
        'Quoted: docs/a.md: "at most 10 s". Page only: docs/a.md.\n'
        'Wrong: docs/a.md "Nope", docs/a.md: "at least 3 s", docs/b.md."""\n',
        encoding="utf-8",
    )
    lua = tmp_path / "m.lua"
    lua.write_text('--- The check (docs/a.md "Browser\n-- login"), docs/a.md "Gone".\n', encoding="utf-8")
    assert [p.split(": ", 1)[1] for p in citation_problems(lua)] == ['docs/a.md: no heading "Gone"']
    assert [p.split(": ", 1)[1] for p in citation_problems(code)] == [
        'docs/a.md: no heading "Nope"',
        'docs/a.md: "at least 3 s" is not said there',
        "docs/b.md: no such page",
    ]
