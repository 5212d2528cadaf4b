"""Subcommands of ``python -m datemaker``: one module each, exposing ``register(subparsers)``.

A module's ``register`` adds its parser and sets ``run=<function(args, settings) -> int>`` as a default;
heavy imports stay inside the run function so that ``--help`` is instant.
"""

SUBCOMMANDS = (
    "serve",
    "migrate",
    "meet_login",
    "plan",
    "events",
    "schedules",
    "organizers",
    "retention",
    "dead_letters",
)
"""Module names under ``datemaker.cli``, in the order ``--help`` lists them."""
