"""Telegram's message formatting as the Bot API checks it: HTML and MarkdownV2 into plain text.

Each parser returns the text a user would see, or raises :class:`ParseError` with the description
Telegram answers (``Bad Request: can't parse entities: ...``). They follow the documented rules
(https://core.telegram.org/bots/api#formatting-options) closely enough to catch what a bot gets wrong:
unsupported or unbalanced tags, unescaped reserved characters, unclosed entities.
"""

from __future__ import annotations

import html
import logging
import re

logger = logging.getLogger(__name__)

HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "a",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    }
)
MARKDOWN_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_ENTITY = re.compile(r"&(#\d{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")
_TAG_NAME = re.compile(r"/?\s*([a-zA-Z][a-zA-Z0-9-]*)")
_MD_NAMES = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough", "||": "Spoiler"}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


class ParseError(ValueError):
    """The text cannot be parsed; ``description`` is what Telegram answers."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.description = f"Bad Request: can't parse entities: {reason}"


def utf16_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def parse_html(text: str) -> str:
    """Plain text of an HTML-formatted message."""
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            end = text.find(">", i)
            if end < 0:
                raise ParseError(f"Can't find end of the tag starting at byte offset {_byte_offset(text, i)}")
            body = text[i + 1 : end]
            match = _TAG_NAME.match(body)
            if match is None:
                raise ParseError(f"Unsupported start tag at byte offset {_byte_offset(text, i)}")
            name = match.group(1).lower()
            if body.startswith("/"):
                if not stack:
                    raise ParseError(f"Unexpected end tag at byte offset {_byte_offset(text, i)}")
                if stack[-1][0] != name:
                    raise ParseError(
                        f'Unmatched end tag at byte offset {_byte_offset(text, i)}, expected "</{stack[-1][0]}>", '
                        f'found "</{name}>"'
                    )
                stack.pop()
            else:
                if name not in HTML_TAGS:
                    raise ParseError(f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, i)}')
                if name == "span" and "tg-spoiler" not in body:
                    raise ParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(text, i)}')
                stack.append((name, i))
            i = end + 1
        elif ch == "&":
            match = _ENTITY.match(text, i)
            if match is None:
                out.append("&")  # Telegram keeps a lone ampersand as it is
                i += 1
                continue
            ref = match.group(1)
            if ref.startswith("#") or ref in _NAMED_ENTITIES:
                out.append(html.unescape(match.group(0)))
            else:
                raise ParseError(f'Unsupported HTML entity "&{ref};" at byte offset {_byte_offset(text, i)}')
            i = match.end()
        elif ch == ">":
            out.append(">")
            i += 1
        else:
            out.append(ch)
            i += 1
    if stack:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out)


def parse_markdown_v2(text: str) -> str:
    """Plain text of a MarkdownV2-formatted message."""
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            if i + 1 >= n or not (1 <= ord(text[i + 1]) <= 126):
                out.append("\\")
                i += 1
                continue
            out.append(text[i + 1])
            i += 2
            continue
        if ch == "`":
            fence = "```" if text.startswith("```", i) else "`"
            start = i
            i += len(fence)
            if fence == "```":  # an optional language name up to the end of the first line
                newline = text.find("\n", i)
                if newline >= 0 and re.fullmatch(r"[A-Za-z0-9_+-]*", text[i:newline]):
                    i = newline + 1
            closed = False
            while i < n:
                if text[i] == "\\" and i + 1 < n and text[i + 1] in "`\\":
                    out.append(text[i + 1])
                    i += 2
                elif text.startswith(fence, i):
                    i += len(fence)
                    closed = True
                    break
                else:
                    out.append(text[i])
                    i += 1
            if not closed:
                kind = "Pre" if fence == "```" else "Code"
                raise ParseError(f"Can't find end of {kind} entity at byte offset {_byte_offset(text, start)}")
            continue
        marker = None
        if text.startswith("__", i):
            marker = "__"
        elif text.startswith("||", i):
            marker = "||"
        elif ch in "*_~":
            marker = ch
        if marker is not None:
            if stack and stack[-1][0] == marker:
                stack.pop()
            else:
                stack.append((marker, i))
            i += len(marker)
            continue
        if ch == "[":
            stack.append(("[", i))
            i += 1
            continue
        if ch == "]" and stack and stack[-1][0] == "[":
            stack.pop()
            if i + 1 < n and text[i + 1] == "(":
                close = i + 2
                while close < n and text[close] != ")":
                    close += 2 if text[close] == "\\" else 1
                if close >= n:
                    raise ParseError(f"Can't find end of a URL at byte offset {_byte_offset(text, i + 1)}")
                i = close + 1
            else:
                i += 1
            continue
        if ch == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1  # a blockquote line
            continue
        if ch in MARKDOWN_V2_RESERVED:
            raise ParseError(f"Character '{ch}' is reserved and must be escaped with the preceding '\\'")
        out.append(ch)
        i += 1
    if stack:
        marker, at = stack[-1]
        if marker == "[":
            raise ParseError(f"Can't find end of TextUrl entity at byte offset {_byte_offset(text, at)}")
        raise ParseError(f"Can't find end of {_MD_NAMES[marker]} entity at byte offset {_byte_offset(text, at)}")
    return "".join(out)


def parse_markdown(text: str) -> str:
    """Plain text of a legacy Markdown message (entities ``*``, ``_``, `````, ``[text](url)``)."""
    out: list[str] = []
    open_marker: tuple[str, int] | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "*_`":
            if open_marker is None:
                open_marker = (ch, i)
            elif open_marker[0] == ch:
                open_marker = None
            else:
                out.append(ch)
            i += 1
            continue
        out.append(ch)
        i += 1
    if open_marker is not None:
        raise ParseError(f"Can't find end of the entity starting at byte offset {_byte_offset(text, open_marker[1])}")
    return "".join(out)


def plain_text(text: str, parse_mode: str | None) -> str:
    """What the user sees of ``text`` sent with ``parse_mode``; raises :class:`ParseError`."""
    mode = (parse_mode or "").strip().lower()
    if not mode:
        return text
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    raise ParseError(f"Unsupported parse_mode {parse_mode!r}")
