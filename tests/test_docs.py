# SPDX-License-Identifier: MIT
"""The documentation resolves: every relative Markdown link, every repository path and every
dotted ``nomul.`` name in backticks in README.md, docs/*.md and bench/*.md names something that
exists, and no file of the repository points at the developers' design notes (which are not in
it) other than through an existing page of docs/."""

import importlib
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
         *sorted((ROOT / "bench").glob("*.md"))]

# a backticked token is a repository path when it starts with one of these (``nomul/...`` is
# the package, under src/); ``build/...``, ``~/.cache/...`` and commands are not
PATH_PREFIXES = ("src/", "docs/", "bench/", "tests/")
PACKAGE_PREFIX = "nomul/"
# the design notes outside the repository (names built here, so this file does not mention them)
NOTES = ("ARCHITECTURE", "TOOLCHAIN", "REDESIGN")
NOTE = re.compile(r"(?:\b(?P<prefix>[\w./-]*/))?\b(?P<name>" + "|".join(NOTES) + r")\.md\b")
OUTSIDE = ("..", "/shared/")                   # the notes' folder, joined where it is searched
# what is searched for mentions: text files of these folders and these top-level files
SEARCHED = ("src", "tests", "bench", "docs")
TOP_FILES = ("README.md", "Makefile", "pyproject.toml")
TEXT_SUFFIXES = {".py", ".md", ".cpp", ".h", ".toml", ".txt", ".cfg", ".ini", ".sh", ".ys"}
SKIPPED_DIRS = {"__pycache__", "build"}

FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1[^\n]*$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*(?P<target>\S+)", re.MULTILINE)
CODE_SPAN = re.compile(r"`(?P<code>[^`]+)`")
# a dotted name: the whole token, or followed by a call's "("; one ending in a file suffix is
# a file name (``nomul.v``), not a module
DOTTED = re.compile(r"^nomul(?:\.[A-Za-z_][A-Za-z0-9_]*)+(?=$|\()")
FILE_SUFFIXES = {"v", "py", "md", "npz", "json", "csv", "txt", "cpp", "toml", "vcd", "bin", "bit"}


def _blank(match):
    """A match replaced by spaces, its newlines kept (offsets and line numbers unchanged)."""
    return re.sub(r"[^\n]", " ", match.group(0))


def _prose(text):
    """``text`` with fenced code blocks blanked."""
    return FENCE.sub(_blank, text)


def _line(text, offset):
    return text.count("\n", 0, offset) + 1


def _exists(path):
    """Whether ``path`` exists; a ``<placeholder>``, ``...`` or glob part matches any name."""
    text = str(path.relative_to(ROOT))
    if not any(mark in text for mark in ("<", "...", "*", "?")):
        return path.exists()
    pattern = re.sub(r"<[^>/]+>", "*", text).replace("...", "*")
    return any(ROOT.glob(pattern))


def _tokens(code):
    for token in code.split():
        yield token.strip("()[]{}'\",;:").rstrip(".")


def _resolves(dotted):
    """Whether ``nomul.a.b.c`` is a module, or an attribute (or dataclass field) of one."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        name = ".".join(parts[:cut])
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            break
    else:
        return False
    if cut == len(parts):
        return True
    target = importlib.import_module(name)
    for attribute in parts[cut:]:
        if hasattr(target, attribute):
            target = getattr(target, attribute)
        elif attribute in getattr(target, "__dataclass_fields__", {}):
            return True
        else:
            return False
    return True


def broken_references(page):
    """``["line N: what", ...]``: the references of Markdown file ``page`` that do not
    resolve (relative links against the page's folder, repository paths against the root)."""
    text = _prose(page.read_text(encoding="utf-8"))
    broken = []
    outside_code = CODE_SPAN.sub(_blank, text)
    for pattern in (LINK, REFERENCE_LINK):
        for match in pattern.finditer(outside_code):
            target = match.group("target")
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue                                       # URLs, mail, anchors
            path = target.split("#", 1)[0]
            if not (page.parent / path).resolve().exists():
                broken.append(f"line {_line(text, match.start())}: link {target}")
    for match in CODE_SPAN.finditer(text):
        for token in _tokens(match.group("code")):
            where = f"line {_line(text, match.start())}"
            if token.startswith(PATH_PREFIXES):
                if not _exists(ROOT / token):
                    broken.append(f"{where}: path {token}")
            elif token.startswith(PACKAGE_PREFIX):
                if not _exists(ROOT / "src" / token):
                    broken.append(f"{where}: path {token}")
            elif (dotted := DOTTED.match(token)) and \
                    dotted.group(0).rsplit(".", 1)[1] not in FILE_SUFFIXES and \
                    not _resolves(dotted.group(0)):
                broken.append(f"{where}: name {dotted.group(0)}")
    return broken


def stale_mentions(path, root=ROOT):
    """``["file:N: what", ...]``: mentions of the design notes in ``path`` (named relative to
    ``root``) that are not links to an existing page of docs/."""
    text = path.read_text(encoding="utf-8", errors="replace")
    found = []
    for match in NOTE.finditer(text):
        prefix, name = match.group("prefix") or "", match.group("name")
        if prefix.endswith("docs/") and (ROOT / "docs" / f"{name}.md").exists():
            continue
        found.append(f"{path.relative_to(root)}:{_line(text, match.start())}: {match.group(0)}")
    outside = "".join(OUTSIDE)
    for match in re.finditer(re.escape(outside), text):
        found.append(f"{path.relative_to(root)}:{_line(text, match.start())}: {outside}")
    return found


def _searched_files():
    for name in TOP_FILES:
        if (ROOT / name).is_file():
            yield ROOT / name
    for folder in SEARCHED:
        for path in sorted((ROOT / folder).rglob("*")):
            parts = path.relative_to(ROOT).parts[:-1]
            if any(p in SKIPPED_DIRS or p.startswith(".") or p.endswith(".egg-info")
                   for p in parts):
                continue
            if path.is_file() and path.suffix in TEXT_SUFFIXES:
                yield path


def test_the_documentation_pages_exist():
    assert (ROOT / "docs" / "architecture.md").is_file()
    assert (ROOT / "docs" / "toolchain.md").is_file()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/architecture.md)" in readme and "(docs/toolchain.md)" in readme


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_reference_of_a_page_resolves(page):
    assert broken_references(page) == []


def test_no_file_points_at_the_design_notes_outside_the_repository():
    found = [hit for path in _searched_files() for hit in stale_mentions(path)]
    assert found == []


def test_the_checks_catch_what_is_missing(tmp_path):
    """The checks above would fail: a missing file, link, module or note is reported, and
    what exists (commands, build outputs, placeholders) is not."""
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md) [gone](missing.md) [web](https://example.com) [top](#top)\n"
        "`src/nomul/api.py` `src/nomul/no_such_module.py` `bench/RESULTS.md`\n"
        "`.venv/bin/python bench/no_such_bench.py --flag` `nomul build MODEL -o DIR`\n"
        "`build/demo/digits.npz` `~/.cache/nomul` `src/nomul/hw/families/data/<family>/`\n"
        "`src/nomul/hw/families/data/<family>/no_such.csv` `nomul/sim/harness.cpp`\n"
        "`docs/*.md` `src/nomul/...py` `tests/*.no_such`\n"
        "`nomul.design.lower` `nomul.design.baseline_model` `nomul.gateware.no_such`\n"
        "`nomul.hw.families.Family.boards` `nomul.no_such_package.thing`\n"
        "`nomul.lower(model, options)` `nomul.egg-info` `out/nomul.v` `nomul.v`\n"
        "```\nsrc/not/checked/in/a/fence.py [fenced](nowhere.md)\n```\n",
        encoding="utf-8")
    (tmp_path / "other.md").write_text("", encoding="utf-8")
    assert [entry.split(": ", 1)[1] for entry in broken_references(page)] == [
        "link missing.md",
        "path src/nomul/no_such_module.py",
        "path bench/no_such_bench.py",
        "path src/nomul/hw/families/data/<family>/no_such.csv",
        "path tests/*.no_such",
        "name nomul.gateware.no_such",
        "name nomul.no_such_package.thing",
    ]
    note = NOTES[1] + ".md"
    mentions = tmp_path / "mentions.py"
    mentions.write_text(f"# see {note}\n# see [it](docs/{note.lower()})\n"
                        f"# see docs/{note}\n# see {''.join(OUTSIDE)}design\n", encoding="utf-8")
    assert stale_mentions(mentions, tmp_path) == [
        f"mentions.py:1: {note}", f"mentions.py:3: docs/{note}",
        f"mentions.py:4: {''.join(OUTSIDE)}"]
