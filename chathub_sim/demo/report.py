"""The summary at the end: the event in figures, then the checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from chathub_sim.demo.checks import Tally
from chathub_sim.demo.facts import CheckResult
from chathub_sim.demo.services import Record

MESSAGE_METHODS = {
    "sendmessage": "sendMessage",
    "sendphoto": "sendPhoto",
    "editmessagetext": "editMessageText",
    "editmessagecaption": "editMessageCaption",
    "editmessagereplymarkup": "editMessageReplyMarkup",
}


@dataclass(frozen=True)
class Figures:
    """Everything the summary shows besides the tally and the checks."""

    event_id: int
    state: str
    rounds: int
    record: Record | None
    meet: dict
    telegram: dict
    peak_rate: float
    rate_window: float
    command_p50: float | None
    command_p99: float | None
    command_count: int
    answer_p50: float | None
    answer_p99: float | None
    answer_count: int
    metrics_url: str
    duration: float
    exit_codes: dict[str, int | None]
    stop_seconds: dict[str, float | None]
    log_dir: str
    database: str
    kept: bool


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _took(seconds: float | None) -> str:
    return "" if seconds is None else f" ({seconds:.1f} s after SIGTERM)"


def render(console: Console, tally: Tally, figures: Figures, checks: Sequence[CheckResult]) -> None:
    summary = Table(title=f"Event {figures.event_id}: {figures.state}", show_header=False, title_justify="left")
    summary.add_column(style="bold")
    summary.add_column()
    record = figures.record
    telegram = figures.telegram
    methods = telegram.get("accepted") or {}
    sent = ", ".join(f"{count} {MESSAGE_METHODS[name]}" for name, count in methods.items() if name in MESSAGE_METHODS)
    taps = methods.get("answercallbackquery", 0)
    rows = [
        ("participants", f"{tally.participants} ({tally.women} women, {tally.men} men)"),
        ("registered", str(tally.registered)),
        ("confirmed", f"{tally.confirmed} ({tally.never_confirmed} never answered)"),
        (
            "seated",
            f"{tally.seated}"
            + (f" (and {tally.not_seated} told there is no place for them)" if tally.not_seated else ""),
        ),
        ("groups / rounds", f"{record.groups if record else '–'} / {figures.rounds}"),
        (
            "dates held",
            f"{tally.dates_held} of {tally.dates_planned} planned (both joined the call)"
            + (f"; {record.dates_attended} in Meet's conference records" if record else ""),
        ),
        ("sit-outs per person", f"min {tally.sit_outs_min}, max {tally.sit_outs_max}"),
        ("ratings", f"{tally.likes} likes, {tally.dislikes} dislikes, {tally.reports} report(s)"),
        ("mutual matches", str(tally.matches) + (f" (datemaker's matches view: {record.matches})" if record else "")),
        (
            "Meet",
            f"{figures.meet.get('spaces_created', '–')} spaces created, "
            f"{figures.meet.get('conferences_ended', '–')} calls ended, "
            f"{figures.meet.get('conference_records', '–')} conference records",
        ),
        (
            "Telegram",
            f"{telegram.get('messages_accepted', '–')} messages accepted ({sent}), {taps} button answers; "
            f"{telegram.get('too_many_requests', '–')} × 429 (limits: 30 in any second, 1 per second per chat); "
            f"busiest {figures.rate_window:g} s: {figures.peak_rate:.1f} msg/s",
        ),
        (
            "command latency",
            f"p50 {_seconds(figures.command_p50)}, p99 {_seconds(figures.command_p99)} over {figures.command_count} "
            "commands: datemaker's /metrics histogram chathub_command_duration_seconds (receipt → reply confirmed by "
            "the broker, interpolated within buckets)",
        ),
        (
            "answer latency",
            f"p50 {_seconds(figures.answer_p50)}, p99 {_seconds(figures.answer_p99)} over {figures.answer_count} "
            "actions: measured by the simulated people, from a tap or message to the bot's answer on screen "
            "(includes Telegram's 1 msg/s per chat)",
        ),
        ("metrics", f"{figures.metrics_url} (datemaker's METRICS_PORT, served while the demo ran)"),
        (
            "processes",
            ", ".join(
                f"{name} exited {code}" + _took(figures.stop_seconds.get(name))
                for name, code in figures.exit_codes.items()
            )
            or "still running (--keep-running; Ctrl-C stops them)",
        ),
        ("logs", figures.log_dir),
        (
            "database",
            f"{figures.database} " + ("kept for a look (psql " + figures.database + ")" if figures.kept else "dropped"),
        ),
        ("took", f"{figures.duration:.0f} s"),
    ]
    for label, value in rows:
        summary.add_row(label, value)
    console.print(summary)

    table = Table(title="Checks", title_justify="left")
    table.add_column("")
    table.add_column("check")
    table.add_column("detail")
    for check in checks:
        mark = "[green]✔ pass[/green]" if check.passed else "[red]✘ FAIL[/red]"
        table.add_row(mark, check.name, check.detail)
    console.print(table)
    passed = sum(c.passed for c in checks)
    if passed == len(checks):
        console.print(f"[bold green]All {len(checks)} checks passed.[/bold green]")
    else:
        console.print(f"[bold red]{len(checks) - passed} of {len(checks)} checks failed.[/bold red]")
