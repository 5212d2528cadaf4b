"""``dead-letters``: what is in each dead-letter queue and why (``list``), and putting it back (``replay``).

A message reaches ``<queue>.dead`` only when it failed for its own sake: past the delivery limit, or refused as
invalid (outages hold messages instead). ``list`` shows each one's command, user, the queue it died in, the
reason and count from its ``x-death`` headers, and the start of its body; the messages stay. ``replay`` publishes
them to the queue they died in and takes them off: each is still handled once, since a command's
``message_id`` is idempotent in datemaker and the bot remembers the messages it delivered. Without ``--queue``,
both dead-letter queues of ``CHATHUB_ENV``. Bad input: one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from datemaker.cli.common import action_group, fail, table, whole_number
from datemaker.config import Settings

if TYPE_CHECKING:
    from chathub_common.delivery import DeadLetter

BODY_SHOWN = 60
"""Characters of a body that ``list`` shows."""


def register(commands: argparse._SubParsersAction) -> None:
    actions = action_group(
        commands,
        "dead-letters",
        run,
        help="messages in the dead-letter queues: list them and why, replay them",
        description="The dead-letter queues hold messages that failed for their own sake (never for an outage). "
        "list shows them and why (x-death); replay puts them back in their queue, each still handled once.",
    )
    for name, text in (("list", "show the messages and why they died"), ("replay", "put them back in their queue")):
        action = actions.add_parser(name, help=text)
        action.add_argument("--queue", metavar="Q", help="one queue: its name, or its dead-letter queue's name")
        action.add_argument("--limit", type=whole_number, default=1000, help="at most this many (default 1000)")


def dead_letter_queues(settings: Settings, queue: str | None) -> list[str]:
    """The dead-letter queues an action is about; ValueError for a queue that is not one of this environment's."""
    from contracts import topology

    known = [topology.dead_letter_queue(settings.command_queue), topology.dead_letter_queue(settings.bot_queue)]
    if queue is None:
        return known
    name = queue if queue.endswith(".dead") else topology.dead_letter_queue(queue)
    if name not in known:
        raise ValueError(f"unknown queue {queue!r}: one of {', '.join(known)} (CHATHUB_ENV={settings.chathub_env})")
    return [name]


def describe(letters: list[DeadLetter]) -> str:
    rows = []
    for letter in letters:
        body = letter.body.decode("utf-8", "replace").replace("\n", " ")
        rows.append(
            [
                letter.message_id or "-",
                letter.type or "-",
                str(letter.user_id or "-"),
                letter.queue or "-",
                f"{letter.reason or '-'} ×{letter.count}",
                f"{letter.first_at:%Y-%m-%d %H:%M:%S}" if letter.first_at else "-",
                body if len(body) <= BODY_SHOWN else body[: BODY_SHOWN - 1] + "…",
            ]
        )
    return table(["message id", "type", "user", "died in", "reason", "at (UTC)", "body"], rows)


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from chathub_common.rabbit import Broker, PublishError

    try:
        queues = dead_letter_queues(settings, args.queue)
    except ValueError as exc:
        return fail("dead-letters", args, str(exc))

    async def act() -> int:
        broker = Broker(
            settings.rabbitmq_url(),
            exchange=settings.rabbitmq_exchange,
            env=settings.chathub_env,
            connection_name="datemaker dead-letters",
            publish_timeout=settings.publish_timeout_seconds,
        )
        await broker.connect(timeout=10.0)
        try:
            for queue in queues:
                if args.action == "list":
                    letters = await broker.dead_letters(queue, args.limit)
                    print(f"{queue}: {len(letters)} message(s)" + ("" if len(letters) < args.limit else " or more"))
                    if letters:
                        print(describe(letters))
                else:
                    try:
                        letters = await broker.replay(queue, args.limit)
                    except PublishError as exc:
                        print(f"{queue}: replay stopped: {exc}")
                        return 1
                    print(f"{queue}: {len(letters)} message(s) replayed")
                    for letter in letters:
                        print(f"  {letter.message_id} ({letter.type}) to {letter.queue}")
        finally:
            await broker.close()
        return 0

    return asyncio.run(act())
