"""Fixtures of the end-to-end tests that drive ``python -m chathub_bot`` through the Bot API emulator."""

from __future__ import annotations

import pytest

from chathub_sim.telegram import BotApiEmulator


@pytest.fixture(scope="module")
async def emulator():
    """A Bot API emulator for the module: Telegram's 30 messages a second, 5 a second per chat (tests are quick)."""
    async with BotApiEmulator(global_rate=30, chat_rate=5) as emulator:
        yield emulator
