"""``schedules``: standing weekly nights that datemaker keeps on the calendar by itself: add, list, show, set,
pause, resume, end.

A running datemaker makes each schedule's next events (its horizon) within seconds, and applies its demand rules;
this module parses, checks (:mod:`datemaker.domain.schedules`), writes and prints. Bad input gets one line on
stderr and exit status 2.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from datemaker.cli.common import (
    action_group,
    add_event_settings,
    duration,
    event_settings,
    identifier,
    log_change,
    run_action,
    table,
    when,
    whole_number,
)
from datemaker.config import Settings

if TYPE_CHECKING:
    from datemaker.adapters.postgres.schedules import ScheduledEventLine, ScheduleLine, ScheduleQueries
    from datemaker.domain.schedules import Schedule

OFF = "off"
NEXT = "next"
_schedule_id = identifier("a schedule")


def _or_word(word: str, parse: Callable[[str], int]) -> Callable[[str], int | str]:
    """An argparse type: ``word`` itself, or what ``parse`` makes of the text."""

    def parse_or_word(text: str) -> int | str:
        return word if text.strip().lower() == word else parse(text)

    return parse_or_word


def _demand_options(parser: argparse.ArgumentParser, *, changing: bool) -> None:
    """The horizon and the demand rules: defaults for a new schedule, left as they are when changing one."""

    def default(value: str) -> str:
        return "" if changing else f" (default {value})"

    parser.add_argument(
        "--horizon", type=whole_number, metavar="N", help="keep the next N events open for registration" + default("3")
    )
    parser.add_argument(
        "--extra-when-waitlist",
        type=_or_word(OFF, whole_number),
        metavar="N|off",
        help="open an extra night when an event's waitlist holds N people; its seats are offered to them first"
        + default("off"),
    )
    parser.add_argument(
        "--extra-offset",
        type=_or_word(NEXT, duration),
        metavar="DURATION|next",
        help="the extra night starts this long after the full one, in local time (e.g. 1d), or at the schedule's "
        "next free slot" + default("next"),
    )
    parser.add_argument(
        "--alert-below",
        type=_or_word(OFF, whole_number),
        metavar="PERCENT|off",
        help="tell organizers about an event with fewer than PERCENT %% of its seats taken" + default("50"),
    )
    parser.add_argument(
        "--alert-lead",
        type=duration,
        metavar="DURATION",
        help="... from this long before its confirmations open" + default("1d"),
    )


def register(commands: argparse._SubParsersAction) -> None:
    actions = action_group(
        commands,
        "schedules",
        run,
        help="standing nights datemaker keeps on the calendar: add, list, show, set, pause, resume, end",
        description="Schedules: datemaker makes each active schedule's next events by itself, and opens an extra "
        "night when a waitlist overflows. Durations are seconds, or e.g. 90s, 5m, 1h30m, 1d.",
    )
    add = actions.add_parser(
        "add",
        help="a new schedule; prints its id",
        description="A new schedule: events on these days of the week at this local time. Event settings left out "
        "take the table's defaults.",
    )
    add.add_argument(
        "--days", required=True, metavar="DAYS", help="mon,tue,wed,thu,fri,sat,sun (e.g. mon,fri), or daily"
    )
    add.add_argument("--time", required=True, metavar="HH:MM", help="local start time, e.g. 19:00")
    add_event_settings(add)
    _demand_options(add, changing=False)
    add.set_defaults(handler=_add)

    listing = actions.add_parser("list", help="the schedules, their next event and demand rules")
    listing.add_argument("--all", action="store_true", help="ended schedules too")
    listing.set_defaults(handler=_list)

    show = actions.add_parser("show", help="a schedule: its rule, settings, demand rules and events")
    show.add_argument("schedule_id", type=_schedule_id, metavar="ID")
    show.set_defaults(handler=_show)

    change = actions.add_parser("set", help="change a schedule's horizon and demand rules")
    change.add_argument("schedule_id", type=_schedule_id, metavar="ID")
    _demand_options(change, changing=True)
    change.set_defaults(handler=_set)

    for name, verb, what in (
        ("pause", "paused", "stop making events for now (those made stay)"),
        ("resume", "resumed", "make events again"),
        ("end", "ended", "stop for good (those made stay)"),
    ):
        action = actions.add_parser(name, help=what)
        action.add_argument("schedule_id", type=_schedule_id, metavar="ID")
        action.set_defaults(handler=_set_state, verb=verb)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Carry out the action; one line on stderr and status 2 on bad input or an unusable database."""
    from datemaker.adapters.postgres.schedules import ScheduleQueries

    return run_action("schedules", args, settings, _prepare, ScheduleQueries)


def _prepare(args: argparse.Namespace) -> Schedule | None:
    """The new schedule, checked (nothing else can be checked without the database)."""
    if args.action != "add":
        return None
    from datemaker.domain.event_settings import DEFAULT_TIMEZONE
    from datemaker.domain.schedules import Rule, Schedule, parse_days, parse_time, template, validate

    timezone = args.timezone if args.timezone is not None else DEFAULT_TIMEZONE
    schedule = _changed(
        Schedule(
            id=0,
            rule=Rule(parse_days(args.days), parse_time(args.time), timezone),
            template=template(timezone, **event_settings(args)),
        ),
        args,
    )
    validate(schedule, datetime.now(UTC))
    return schedule


def _changed(schedule: Schedule, args: argparse.Namespace) -> Schedule:
    """``schedule`` with the horizon and demand options given on the command line."""
    demand = schedule.demand
    if args.extra_when_waitlist is not None:
        demand = replace(
            demand, extra_when_waitlist=None if args.extra_when_waitlist == OFF else args.extra_when_waitlist
        )
    if args.extra_offset is not None:
        demand = replace(demand, extra_offset_seconds=None if args.extra_offset == NEXT else args.extra_offset)
    if args.alert_below is not None:
        demand = replace(demand, alert_below_percent=None if args.alert_below == OFF else args.alert_below)
    if args.alert_lead is not None:
        demand = replace(demand, alert_lead_seconds=args.alert_lead)
    horizon = schedule.horizon if args.horizon is None else args.horizon
    return replace(schedule, horizon=horizon, demand=demand)


async def _add(args: argparse.Namespace, queries: ScheduleQueries, schedule: Schedule) -> int:
    from datemaker.domain.schedules import horizon_slots

    schedule_id = await queries.add(schedule)
    details = {"schedule_id": schedule_id, "rule": schedule.rule.describe(), "capacity": schedule.template.users_limit}
    await log_change(queries.pool, "add_schedule", details={**details, "horizon": schedule.horizon})
    print(f"created schedule {schedule_id}: {schedule.rule.describe()}")
    for line in _describe(replace(schedule, id=schedule_id)):
        print(line)
    zone = schedule.rule.timezone
    upcoming = ", ".join(when(start, zone) for start in horizon_slots(schedule, datetime.now(UTC)))
    print(f"  first      {upcoming} (a running datemaker makes them within seconds: `datemaker events list`)")
    return 0


def _describe(schedule: Schedule) -> Iterator[str]:
    from datemaker.domain.schedules import describe_span

    settings = schedule.template
    ages = ""
    if settings.min_age is not None or settings.max_age is not None:
        ages = f", ages {settings.min_age or 'any'} to {settings.max_age or 'any'}"
    yield (
        f"  events     capacity {settings.users_limit}, {settings.mode}, groups of up to {settings.group_size}, "
        f"up to {settings.max_rounds} rounds of {describe_span(settings.round_seconds)} with "
        f"{describe_span(settings.break_seconds)} breaks{ages}; registration closes "
        f"{describe_span(settings.confirm_deadline_seconds)} before the start"
    )
    yield f"  horizon    keeps the next {schedule.horizon} event(s) open"
    yield f"  demand     {schedule.demand.describe()}"


async def _list(args: argparse.Namespace, queries: ScheduleQueries, _: None) -> int:
    lines: list[ScheduleLine] = await queries.lines(datetime.now(UTC), everything=args.all)
    if not lines:
        scope = "" if args.all else " active or paused"
        print(f"no{scope} schedules (add one with `datemaker schedules add --days mon,fri --time 19:00`)")
        return 0
    rows = []
    for line in lines:
        s = line.schedule
        demand = s.demand
        rows.append(
            [
                str(s.id),
                s.state.value,
                _days(s),
                f"{s.rule.at:%H:%M}",
                s.rule.timezone,
                str(s.template.users_limit),
                f"{line.upcoming}/{s.horizon}",
                when(line.next_start, s.rule.timezone) if line.next_start else "-",
                "-" if demand.extra_when_waitlist is None else f"{demand.extra_when_waitlist} waiting",
                "-" if demand.alert_below_percent is None else f"<{demand.alert_below_percent}%",
            ]
        )
    headers = ["ID", "STATE", "DAYS", "TIME", "TIMEZONE", "CAPACITY", "OPEN", "NEXT", "EXTRA", "ALERT"]
    print(table(headers, rows, right={0, 5, 6}))
    return 0


def _days(schedule: Schedule) -> str:
    from datemaker.domain.schedules import describe_days

    return describe_days(schedule.rule.weekdays).replace(" ", "")


async def _show(args: argparse.Namespace, queries: ScheduleQueries, _: None) -> int:
    from datemaker.adapters.postgres.schedules import schedule_not_found

    found = await queries.line(args.schedule_id, datetime.now(UTC))
    if found is None:
        raise schedule_not_found(args.schedule_id)
    line, events = found
    schedule: Schedule = line.schedule
    zone = schedule.rule.timezone
    print(f"Schedule {schedule.id}: {schedule.state.value}")
    print(f"  rule       {schedule.rule.describe()}")
    for text in _describe(schedule):
        print(text)
    print(f"  created    {when(line.created_at, zone)} (changed {when(line.updated_at, zone)})")
    print()
    if not events:
        print("Events: none yet" + (" (a running datemaker makes them)" if schedule.state.value == "active" else ""))
        return 0
    print(f"Events ({zone}; those of the last two weeks and to come)")
    print("  " + table(_EVENT_HEADERS, [_event_row(item) for item in events], right={0, 3, 4}).replace("\n", "\n  "))
    return 0


_EVENT_HEADERS = ["ID", "START", "STATE", "REGISTERED", "WAITLISTED", "EXTRA NIGHT"]


def _event_row(item: ScheduledEventLine) -> list[str]:
    event = item.event
    extra = "-"
    if item.extra_for is not None:
        extra = f"for {item.extra_for}: {item.offers} offered, {item.accepted} taken"
    return [
        str(event.id),
        when(event.start, event.timezone),
        event.state.name,
        f"{event.registered_count}/{event.users_limit}",
        str(event.waitlisted_count),
        extra,
    ]


async def _set(args: argparse.Namespace, queries: ScheduleQueries, _: None) -> int:
    from datemaker.domain.event_settings import InvalidEventSettings

    options = ("horizon", "extra_when_waitlist", "extra_offset", "alert_below", "alert_lead")
    if all(getattr(args, name) is None for name in options):
        raise InvalidEventSettings(
            "nothing to change: give --horizon, --extra-when-waitlist, --extra-offset, --alert-below or --alert-lead"
        )
    schedule = await queries.change(args.schedule_id, lambda current: _changed(current, args), datetime.now(UTC))
    changed = {name: getattr(args, name) for name in options if getattr(args, name) is not None}
    await log_change(queries.pool, "change_schedule", details={"schedule_id": schedule.id, **changed})
    print(f"changed schedule {schedule.id}: {schedule.rule.describe()}")
    for line in _describe(schedule):
        print(line)
    return 0


async def _set_state(args: argparse.Namespace, queries: ScheduleQueries, _: None) -> int:
    from datemaker.domain.schedules import ScheduleState

    target = {"pause": ScheduleState.PAUSED, "resume": ScheduleState.ACTIVE, "end": ScheduleState.ENDED}[args.action]
    schedule = await queries.set_state(args.schedule_id, target, datetime.now(UTC))
    await log_change(queries.pool, f"{args.action}_schedule", details={"schedule_id": schedule.id})
    if target == ScheduleState.ACTIVE:
        print(f"resumed schedule {schedule.id}: a running datemaker makes its next {schedule.horizon} event(s) again")
    else:
        print(
            f"{args.verb} schedule {schedule.id}: it makes no more events; those it made stay "
            "(see them with `datemaker schedules show`, cancel one with `datemaker events cancel ID`)"
        )
    return 0
