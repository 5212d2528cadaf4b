"""Checks of the profile dialog's answers, the expiring dialog storage, and the bot's settings."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date

import pytest
from aiogram.fsm.storage.base import StorageKey

from chathub_bot.config import BotSettings, MissingTokenError
from chathub_bot.fsm import ExpiringMemoryStorage
from chathub_bot.validation import (
    InvalidAnswer,
    Problem,
    parse_bio,
    parse_birthday,
    parse_gender,
    parse_name,
    telegram_language,
    telegram_username,
)

TODAY = date(2026, 6, 15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("17.05.1995", date(1995, 5, 17)),
        ("1.2.1990", date(1990, 2, 1)),
        ("1995-05-17", date(1995, 5, 17)),
        ("17/05/1995", date(1995, 5, 17)),
        (" 15.06.2008 ", date(2008, 6, 15)),
    ],
)
def test_birthdays_accepted(text, expected):
    assert parse_birthday(text, TODAY) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", Problem.NOT_A_DATE),
        ("tomorrow", Problem.NOT_A_DATE),
        ("31.02.1990", Problem.NOT_A_DATE),
        ("17.05.95", Problem.NOT_A_DATE),
        ("16.06.2026", Problem.FUTURE),
        ("16.06.2008", Problem.TOO_YOUNG),  # 18 tomorrow
        ("01.01.1900", Problem.TOO_OLD),
    ],
)
def test_birthdays_refused(text, problem):
    with pytest.raises(InvalidAnswer) as caught:
        parse_birthday(text, TODAY)
    assert caught.value.problem is problem


def test_names_genders_and_bios():
    assert parse_name("  Anna   Maria ") == "Anna Maria"
    for bad, problem in [
        ("", Problem.EMPTY),
        ("   ", Problem.EMPTY),
        ("/start", Problem.COMMAND),
        ("x" * 65, Problem.TOO_LONG),
    ]:
        with pytest.raises(InvalidAnswer) as caught:
            parse_name(bad)
        assert caught.value.problem is problem
    assert parse_gender("Женщина") == "F" and parse_gender("m") == "M" and parse_gender("MAN!") == "M"
    with pytest.raises(InvalidAnswer):
        parse_gender("other")
    assert parse_bio(" line one\nline two ") == "line one\nline two"
    with pytest.raises(InvalidAnswer):
        parse_bio("x" * 1001)
    assert telegram_username("anna_k") == "anna_k" and telegram_username("bad name") is None
    assert telegram_language("pt-br") == "pt-br" and telegram_language("x") is None


async def test_dialog_storage_expires_after_silence():
    now = [0.0]
    storage = ExpiringMemoryStorage(ttl=60, clock=lambda: now[0], sweep_every=1)
    alice = StorageKey(bot_id=1, chat_id=1, user_id=1)
    bob = StorageKey(bot_id=1, chat_id=2, user_id=2)
    await storage.set_state(alice, "Form:name")
    await storage.set_data(alice, {"draft": {"name": "A"}})
    now[0] = 59
    assert await storage.get_state(alice) == "Form:name"  # reading does not extend the dialog
    await storage.set_data(alice, {"draft": {"name": "B"}})  # answering does
    now[0] = 118
    assert await storage.get_data(alice) == {"draft": {"name": "B"}}
    await storage.set_state(bob, "Form:city")
    now[0] = 200
    assert await storage.get_state(alice) is None and await storage.get_data(alice) == {}
    assert storage.size == 0  # the sweep also forgot bob
    await storage.set_state(alice, None)
    assert storage.size == 0


def test_settings_read_the_protocol_variables(monkeypatch):
    for name, value in {
        "TG_BOT_TOKEN": "42:AAsecret",
        "TG_API_BASE": "http://127.0.0.1:8081",
        "TG_BOT_RABBITMQ_USERNAME": "bot",
        "TG_BOT_RABBITMQ_PASSWORD": "p@ss/word",
        "RABBITMQ_HOST": "mq",
        "RABBITMQ_VIRTUAL_HOST": "/chathub",
        "CHATHUB_ENV": "prod",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("METRICS_PORT", raising=False)
    settings = BotSettings(_env_file=None)
    assert settings.token() == "42:AAsecret"
    assert settings.rabbitmq_url() == "amqp://bot:p%40ss%2Fword@mq:5672/%2Fchathub"
    assert (settings.bot_queue, settings.datemaker_queue) == ("tg_bot_prod", "datemaker_prod")
    assert settings.metrics_port == 9102 and settings.tg_bot_prefetch >= 1000
    assert "p@ss" not in repr(settings) and "AAsecret" not in repr(settings)


def test_refuses_to_start_without_a_token(monkeypatch):
    monkeypatch.delenv("TG_BOT_TOKEN", raising=False)
    with pytest.raises(MissingTokenError, match="TG_BOT_TOKEN is not set"):
        BotSettings(_env_file=None).token()
    env = {k: v for k, v in os.environ.items() if k != "TG_BOT_TOKEN"}
    result = subprocess.run([sys.executable, "-m", "chathub_bot"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    assert "TG_BOT_TOKEN is not set" in result.stderr


def test_the_dismiss_button_names_any_report_within_telegrams_64_bytes():
    from chathub_bot.callbacks import OrganizerAction, OrganizerCb
    from contracts.envelope import INT64_MAX

    packed = OrganizerCb(action=OrganizerAction.DISMISS, target=INT64_MAX).pack()
    assert len(packed.encode()) <= 64 and OrganizerCb.unpack(packed).target == INT64_MAX
    for forged in ("g:d:-1", "g:d:" + "9" * 25, "g:d:x"):
        with pytest.raises(ValueError):
            OrganizerCb.unpack(forged)
