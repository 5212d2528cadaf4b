"""Reading docs/protocol.md: what the contract names in each section (for the tests keeping code and doc in step)."""

from __future__ import annotations

import re
from pathlib import Path

PROTOCOL = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
_WORD = re.compile(r"`([a-z][a-z0-9_]*)`")
_VARIABLE = re.compile(r"`([A-Z][A-Z0-9_]*)`")


def section(number: int) -> str:
    """The text of section ``number`` (``## N. ...`` up to the next section)."""
    text = PROTOCOL.read_text(encoding="utf-8")
    start = text.index(f"\n## {number}. ")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def variables() -> set[str]:
    """Environment variables of section 1 (its table's first column)."""
    rows = [row for row in section(1).splitlines() if row.startswith("| `")]
    return {name for row in rows for name in _VARIABLE.findall(row.split("|")[1])}


def commands() -> set[str]:
    """Commands to datemaker: the first column of section 4's tables."""
    return {_WORD.findall(row)[0] for row in section(4).splitlines() if row.startswith("| `")}


def notifications() -> set[str]:
    """Commands to the bot: the names section 5 lists (its paragraphs, not the bodies they carry)."""
    envelope = {"user_id", "chat_id", "expires_at"}
    return {word for word in _WORD.findall(section(5)) if word not in envelope}


def error_codes() -> set[str]:
    """Error codes: section 3's list ("`code` is a stable snake_case word (...)") and section 4's "New error
    codes: ..." sentence."""
    listed = re.search(r"snake_case word \((.*?)\);", section(3), re.S)
    added = re.search(r"New error codes:(.*?)\.\n", section(4), re.S)
    assert listed and added, "docs/protocol.md no longer lists error codes where it did"
    return set(_WORD.findall(listed.group(1))) | set(_WORD.findall(added.group(1)))
