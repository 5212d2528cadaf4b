"""Event steps go before commands, for a bounded time."""

import asyncio

from datemaker.service.precedence import TimelineFirst


async def test_a_command_waits_for_a_running_step_but_not_longer_than_its_patience():
    gate = TimelineFirst(patience=0.2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await gate.wait()
    assert loop.time() - started < 0.05  # nothing runs: no wait

    order = []

    async def step(seconds: float) -> None:
        with gate.step():
            await asyncio.sleep(seconds)
            order.append("step")

    async def command() -> None:
        await gate.wait()
        order.append("command")

    await asyncio.gather(step(0.05), command())
    assert order == ["step", "command"]

    order.clear()
    await asyncio.gather(step(0.5), command())
    assert order == ["command", "step"]  # the step ran longer than the command's patience
