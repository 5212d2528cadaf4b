"""Whole events that survive faults: a datemaker killed mid-round, two datemakers at once, Meet failing."""

import re
from collections import Counter

from tests.conftest import wait_for
from tests.support.events import confirmed_event, state_of
from tests.support.journey import notifications


def invites_by_person_and_round(bot, event):
    """(user, round) → distinct invitation message ids; and how many copies arrived in all."""
    invites = [s for s in notifications(bot, event) if s.type == "invite_to_meeting"]
    distinct: dict[tuple[int, int], set[str]] = {}
    for invite in invites:
        distinct.setdefault((invite.user_id, invite.body["round"]), set()).add(invite.message_id)
    return distinct, len(invites)


async def assert_every_date_linked_once(pool, bot, event):
    dates = await pool.fetch("SELECT round_no, user_a, user_b, invited_at FROM event_dates WHERE event_id = $1", event)
    distinct, _ = invites_by_person_and_round(bot, event)
    expected = {(user, d["round_no"] + 1) for d in dates for user in (d["user_a"], d["user_b"])}
    assert set(distinct) == expected, "a planned date got no link, or a link went to someone without a date"
    assert all(len(ids) == 1 for ids in distinct.values()), "someone got two different links for one round"
    assert all(d["invited_at"] is not None for d in dates)


async def test_datemaker_killed_mid_round_resumes_without_losing_or_repeating_a_link(isolated):
    first = isolated.datemaker("first").start()
    event, _ = await confirmed_event(isolated.pool, women=5, men=5, starts_in=4)
    try:
        await wait_for(
            lambda: any(
                s.type == "invite_to_meeting" and s.body["round"] == 2 for s in notifications(isolated.bot, event)
            ),
            timeout=40,
        )
        first.kill()  # in round 2: links of round 2 sent, maybe partly
        assert await state_of(isolated.pool, event) == "RUNNING"
        second = isolated.datemaker("second").start()
        try:
            await wait_for(lambda: _is_finished(isolated.pool, event), timeout=60)
        finally:
            second.stop()
    finally:
        first.kill()
    await assert_every_date_linked_once(isolated.pool, isolated.bot, event)
    await wait_for(lambda: len(finals(isolated.bot, event)) == 10)


def finals(bot, event):
    return {s.user_id for s in notifications(bot, event) if s.type == "send_final_dating_message"}


async def test_two_datemakers_at_once_run_each_step_exactly_once(isolated):
    instances = [isolated.datemaker(f"instance{i}").start() for i in range(2)]
    event, _ = await confirmed_event(isolated.pool, women=4, men=5, starts_in=8)
    try:
        await wait_for(lambda: _is_finished(isolated.pool, event), timeout=60)
    finally:
        for instance in instances:
            instance.stop()
    await assert_every_date_linked_once(isolated.pool, isolated.bot, event)
    steps = Counter()
    for instance in instances:
        steps.update(re.findall(rf"event {event}: ([a-z_]+(?: \d+)?)", instance.log.read_text()))
    assert steps, "no step was logged"
    timeline = {step: count for step, count in steps.items() if step not in ("end_calls", "send_late_invites")}
    assert all(count == 1 for count in timeline.values()), steps
    assert "send_late_invites" not in steps, "spaces should be ready before their round"
    assert "end_calls" not in steps, "calls are ended with their round"
    rounds = await isolated.pool.fetchval("SELECT rounds_planned FROM dating_events WHERE id = $1", event)
    assert {f"start_round {r}" for r in range(1, rounds + 1)} <= set(steps)
    assert {"plan", "send_rules", "finish"} <= set(steps)


async def _is_finished(pool, event):
    return await state_of(pool, event) == "FINISHED"
