"""Long lists in one Telegram message (the live board of a night of 300 above all): whole lines only, how many are
left out, who needs a look first."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest

from chathub_bot import texts
from chathub_bot.handlers.organizer import board_text
from chathub_bot.i18n import build_i18n
from contracts import commands as c

NOW = datetime(2026, 12, 5, 16, 5, tzinfo=UTC)


def person(n: int, *, link: bool = True, in_call: bool | None = True) -> c.BoardPerson:
    return c.BoardPerson(
        user_id=n, name=f"Anna & Co <{n}>", status="registered", confirmed=True, seated=True,
        link_sent=link, in_call=in_call, ratings_given=1,
    )  # fmt: skip


def board(people: list[c.BoardPerson], running: bool = True) -> c.EventBoard:
    event = c.OrganizerEvent(
        event_id=7, starts_at="2026-12-05T19:00:00+03:00", timezone="Europe/Moscow", state="RUNNING",
        capacity=300, registered=len(people), waitlisted=0, confirmed=len(people),
    )  # fmt: skip
    summary = c.BoardSummary(round=2 if running else None, dates_running=140, waiting_for_link=3, alone_in_call=7)
    return c.EventBoard(event=event, counts={"registered": len(people)}, people=people, summary=summary)


def text(shown: c.EventBoard, locale: str = "en") -> str:
    i18n = build_i18n()
    with i18n.context(), i18n.use_locale(locale):
        return board_text(shown, NOW)


@pytest.mark.parametrize("locale", ["en", "ru"])
def test_a_night_of_300_fits_one_message_with_who_needs_a_look_first(locale):
    people = [person(n) for n in range(300)]
    people[250] = person(250, link=False, in_call=None)  # no link yet
    people[280] = person(280, in_call=False)  # link sent, not in the call
    shown = text(board(people), locale)
    assert len(shown) <= texts.MESSAGE_CHARS
    lines = shown.splitlines()
    assert lines[3].startswith("Anna &amp; Co &lt;250&gt;") and lines[4].startswith("Anna &amp; Co &lt;280&gt;")
    listed = sum(1 for line in lines if line.startswith("Anna"))
    assert 40 < listed < 300
    assert re.search(rf"\b{300 - listed}\b", lines[-2]), lines[-2]  # how many are left out
    assert "16:05:00 UTC" in lines[-1], "the time of the update is always there"
    for line in lines[3:-2]:  # every line whole: its entities complete
        assert html.unescape(line).count("<") == html.unescape(line).count(">")


def test_a_small_night_is_shown_whole_in_its_order():
    people = [person(n) for n in range(10)]
    lines = text(board(people, running=False)).splitlines()
    assert [line.split(" (")[0] for line in lines[3:-1]] == [f"Anna &amp; Co &lt;{n}&gt;" for n in range(10)]


def test_a_long_list_keeps_its_head_and_tail_and_cuts_between_items():
    i18n = build_i18n()
    items = [f"<b>item {n}</b> &amp; more" for n in range(1000)]
    with i18n.context(), i18n.use_locale("en"):
        whole = texts.fitting(["head"], items[:3], ["tail"])
        cut = texts.fitting(["head"], items, ["tail"], sep="\n\n", limit=500)
    assert whole == "head\n<b>item 0</b> &amp; more\n<b>item 1</b> &amp; more\n<b>item 2</b> &amp; more\ntail"
    parts = cut.split("\n\n")
    assert len(cut) <= 500 and parts[0] == "head" and parts[-1] == "tail"
    assert parts[1:-2] == items[: len(parts) - 3] and parts[-2] == f"…and {1000 - (len(parts) - 3)} more"
