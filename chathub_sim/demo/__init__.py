"""``python -m chathub_sim.demo``: a whole speed-dating event, run for real on this machine.

The demo recreates a database of its own, starts the Meet API emulator, the Bot API emulator, datemaker
and the bot as separate processes, and drives simulated participants through the bot exactly as people
would (over the Bot API emulator's user API): profile dialog, /date, registration, confirmation, calls,
ratings, matches. It shows a live timeline, then a summary and the checks of a real event; it exits 0 only
when every check holds.

Modules: ``options`` (what to run, and the event's compressed timeline), ``people`` (who takes part),
``texts`` (recognising the bot's messages), ``facts`` and ``checks`` (pure checks over what happened),
``stats`` (percentiles), ``services`` (PostgreSQL, RabbitMQ, the database), ``processes`` (the children),
``participant`` (one simulated person), ``live`` (the live view), ``report`` (the summary), ``runner``
(all of it in order), ``__main__`` (the command line).
"""

from chathub_sim.demo.options import DemoOptions

__all__ = ["DemoOptions"]
