"""The bot's state in the real Redis: live boards are remembered until their time is up, one per chat."""

from __future__ import annotations

import asyncio
import time
import uuid

from chathub_bot.config import BotSettings
from chathub_bot.state import LiveBoard, forget_all, open_state


async def test_live_boards_are_kept_one_per_chat_until_their_time_is_up():
    env = f"boards{uuid.uuid4().hex[:8]}"
    redis_url = BotSettings(_env_file=None).redis_url
    state = open_state(redis_url, env, dialog_ttl=60)
    try:
        now = time.time()
        await state.boards.keep(LiveBoard(1, 1, 10, 7, now + 60, "ru"))
        await state.boards.keep(LiveBoard(1, 1, 11, 8, now + 60, "ru"))  # a newer board in the same chat
        await state.boards.keep(LiveBoard(2, 2, 20, 7, now + 0.3, None))
        await state.boards.keep(LiveBoard(3, 3, 30, 7, now - 1, None))  # over already: not kept
        assert sorted((b.chat_id, b.message_id) for b in await state.boards.all()) == [(1, 11), (2, 20)]
        assert next(b for b in await state.boards.all() if b.chat_id == 1) == LiveBoard(1, 1, 11, 8, now + 60, "ru")
        await asyncio.sleep(0.5)
        assert [b.chat_id for b in await state.boards.all()] == [1], "its time is up: Redis let it go"
        await state.boards.forget(1)
        assert await state.boards.all() == []
    finally:
        await forget_all(redis_url, env)
        await state.close()
