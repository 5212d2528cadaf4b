"""The demo from start to end: services, a fresh database, the four processes, the event, the people, the
live timeline, the summary and the checks. Whatever happens (a failure, Ctrl-C, SIGTERM), every process
the demo started is stopped before it returns."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from rich.console import Console

from chathub_sim.demo import checks, report, services, stats
from chathub_sim.demo.facts import EventFacts
from chathub_sim.demo.live import LiveView
from chathub_sim.demo.options import DemoOptions, EventTimeline, event_timeline
from chathub_sim.demo.participant import SimulatedParticipant
from chathub_sim.demo.people import make_people
from chathub_sim.demo.processes import ChildFailed, ChildProcess, Children
from chathub_sim.telegram import EmulatorClient
from datemaker.config import Settings
from datemaker.domain.spaces import ACCOUNT_CREATIONS_PER_MINUTE, PROJECT_CREATIONS_PER_MINUTE

EXIT_OK = 0
EXIT_CHECKS_FAILED = 1
EXIT_FAILED = 2
"""The demo could not run the event (bad options, a process that would not start or died)."""
EXIT_SERVICES = 3
"""PostgreSQL or RabbitMQ is not reachable."""
EXIT_TERMINATED = 128 + signal.SIGTERM

STOP_ORDER = [["bot", "datemaker"], ["bot-api-emulator", "meet-emulator"]]
"""The services first (the bot flushes what it has to the emulator), the emulators last."""
READY_TIMEOUT = 60.0
GRACE_AFTER_RESULTS = 20.0
"""How long to wait, once the event is over and its results saved, for people still waiting for a message."""
TELEGRAM_GLOBAL_RATE = 30
TELEGRAM_CHAT_RATE = 1
COMMAND_HISTOGRAM = "chathub_command_duration_seconds"
RATE_WINDOW = 2.5
"""Seconds over which the live view measures messages per second."""


def run_demo(options: DemoOptions, settings: Settings, console: Console | None = None) -> int:
    """Run the demo; its exit code. Every child is stopped when this returns or raises (Ctrl-C too)."""
    children = Children()
    logging.getLogger().setLevel(logging.WARNING)  # the demo speaks through its console; children log to files
    for chatty in ("aiormq", "aio_pika"):  # a refused connection is explained, not logged
        logging.getLogger(chatty).setLevel(logging.CRITICAL)
    if console is None and not sys.stdout.isatty():
        console = Console(highlight=False, width=max(120, shutil.get_terminal_size((120, 24)).columns))
    demo = Demo(options, settings, children, console)
    try:
        return asyncio.run(demo.run())
    except KeyboardInterrupt:
        if demo.result is not None:  # --keep-running, stopped with Ctrl-C after the summary
            return demo.result
        raise
    except asyncio.CancelledError:  # SIGTERM
        return EXIT_TERMINATED
    finally:
        children.kill_all()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    """The running services and how to reach them."""

    meet_endpoint: str = ""
    meet_control: str = ""
    telegram_url: str = ""
    telegram_token: str = ""
    datemaker_ops: str = ""
    bot_ops: str = ""
    webapp: str = ""
    """The bot's Mini App (its menu button opens it)."""


@dataclass
class RunOutcome:
    """What one run of the event left behind, for the summary and the checks."""

    event: EventFacts
    record: services.Record
    meet: dict[str, Any]
    telegram: dict[str, Any]
    metrics_text: str
    peak_rate: float


@dataclass
class Watch:
    """What the live timeline has announced so far."""

    state: str = ""
    rules: bool = False
    links_out: int = 0
    started: int = 0
    ended: int = 0
    results: bool = False
    milestones: set[str] = field(default_factory=set)
    dates_per_round: dict[int, int] = field(default_factory=dict)
    seated: int = 0
    rate: float = 0.0
    peak_rate: float = 0.0
    accepted: int = 0
    too_many: int = 0


class Demo:
    def __init__(
        self, options: DemoOptions, settings: Settings, children: Children, console: Console | None = None
    ) -> None:
        self.options = options
        self.settings = settings.model_copy(update={"postgres_db": options.database, "chathub_env": options.env})
        self.children = children
        self.console = console or Console(highlight=False)
        self.errors = Console(stderr=True, highlight=False, soft_wrap=True)
        self.started = time.monotonic()
        self.view = LiveView(self.console, self.started)
        self.stack = Stack()
        self.log_dir = Path(options.log_dir) if options.log_dir else None
        """Where the children's logs go; a new temporary directory, made when they start, by default."""
        self.people = make_people(options)
        self.participants: list[SimulatedParticipant] = []
        self.latencies: list[tuple[str, float]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self.result: int | None = None
        """The exit code, once the summary is out."""

    # --- the whole run ------------------------------------------------------------------------

    async def run(self) -> int:
        main_task = asyncio.current_task()
        assert main_task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
        problems = self.options.problems()
        if problems:
            self.errors.print("demo: " + "; ".join(problems))
            return EXIT_FAILED
        self.view.line(
            f"Chathub demo: {self.options.participants} people, queues *_{self.settings.chathub_env}, "
            f"database {self.settings.postgres_db}"
        )
        unreachable = await services.check_services(self.settings)
        if unreachable:
            print(services.explain(unreachable), file=sys.stderr)
            return EXIT_SERVICES
        self.view.line(
            f"PostgreSQL {self.settings.postgres_host}:{self.settings.postgres_port} and RabbitMQ "
            f"{self.settings.rabbitmq_host}:{self.settings.rabbitmq_port} answer"
        )
        outcome: RunOutcome | None = None
        exit_codes: dict[str, int | None] = {}
        try:
            outcome = await self._run()
            if self.options.keep_running:
                self.result = self._report(outcome, {})
                await self._linger()
        except ChildFailed as exc:
            self.view.stop()
            self.errors.print(f"demo: {exc}; the end of its log ({exc.child.log_path}):", markup=False)
            self.errors.print(exc.child.tail(), markup=False)
        except asyncio.CancelledError:
            self.view.stop()
            self.errors.print("demo: interrupted; stopping everything it started")
            raise
        finally:
            self.view.stop()
            await self._stop_people()
            exit_codes = await self.children.stop_all(STOP_ORDER)
            if self.options.cleanup:
                await self._clean_up()
        if outcome is None:
            return EXIT_FAILED
        self.result = self._report(outcome, exit_codes)
        return self.result

    async def _run(self) -> RunOutcome:
        migrations = await services.recreate_database(self.settings)
        await services.delete_queues(self.settings)
        await services.forget_bot_state(self.settings.chathub_env)
        self.view.line(f"database {self.settings.postgres_db} recreated; migrations {', '.join(migrations)}")
        await self._start_services()
        conn = await asyncpg.connect(self.settings.postgres_dsn())
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        try:
            timeline = event_timeline(self.options, datetime.now(UTC))
            event_id = await services.create_event(conn, timeline)
            self._announce_event(event_id, timeline)
            client = EmulatorClient(self.stack.telegram_url, self._session)
            self._start_people(client, event_id, timeline)
            watch = await self._watch(conn, client, event_id, timeline)
            self.view.stop()
            metrics_text = await self._get_text(f"{self.stack.datemaker_ops}/metrics")
            meet = json.loads(await self._get_text(f"{self.stack.meet_control}/stats"))
            telegram = await client.stats()
            event = await services.event_facts(conn, event_id)
            record = await services.event_record(conn, event_id)
        finally:
            await conn.close()
        return RunOutcome(event, record, meet, telegram, metrics_text, watch.peak_rate)

    # --- services -----------------------------------------------------------------------------

    def _env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "CHATHUB_ENV": self.settings.chathub_env,
                "POSTGRES_DB": self.settings.postgres_db,
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.options.extra_env)
        env.update(extra)
        return env

    def _meet_quota_args(self) -> list[str]:
        """Google's creation quotas, with the minute compressed as the demo's night is."""
        window = 60 / self.options.time_scale
        return [
            "--quota",
            str(ACCOUNT_CREATIONS_PER_MINUTE),
            "--project-quota",
            str(PROJECT_CREATIONS_PER_MINUTE),
            "--quota-window",
            f"{window:.3f}",
        ]

    async def _start_services(self) -> None:
        log_dir = self.log_dir = self.log_dir or Path(tempfile.mkdtemp(prefix="chathub-demo-"))
        self.view.line(f"the processes log to {log_dir}")
        meet = self.children.start(
            ChildProcess(
                "meet-emulator",
                "chathub_sim.meet",
                ["--port", "0", "--control-port", "0", *self._meet_quota_args()],
                self._env(),
                log_dir,
            )
        )
        telegram = self.children.start(
            ChildProcess(
                "bot-api-emulator",
                "chathub_sim.telegram",
                ["--port", "0", "--global-rate", str(TELEGRAM_GLOBAL_RATE), "--chat-rate", str(TELEGRAM_CHAT_RATE)],
                self._env(),
                log_dir,
            )
        )
        meet_out, telegram_out = await asyncio.gather(
            meet.wait_output(lambda text: text.endswith("\n"), READY_TIMEOUT),
            telegram.wait_output(lambda text: text.count("\n") >= 2, READY_TIMEOUT),
        )
        announced = json.loads(meet_out.splitlines()[0])
        self.stack.meet_endpoint, self.stack.meet_control = announced["endpoint"], announced["control_url"]
        self.stack.telegram_url, self.stack.telegram_token = telegram_out.splitlines()[:2]
        self.view.line(
            f"Meet API emulator (pid {meet.pid}): gRPC {self.stack.meet_endpoint}, control {self.stack.meet_control}"
        )
        self.view.line(
            f"Bot API emulator (pid {telegram.pid}): {self.stack.telegram_url}, "
            f"{TELEGRAM_GLOBAL_RATE} msg/s per bot, {TELEGRAM_CHAT_RATE} msg/s per chat"
        )
        datemaker_port, bot_port, webapp_port = free_port(), free_port(), free_port()
        self.stack.datemaker_ops = f"http://127.0.0.1:{datemaker_port}"
        self.stack.bot_ops = f"http://127.0.0.1:{bot_port}"
        self.stack.webapp = f"http://127.0.0.1:{webapp_port}/app/"
        datemaker = self.children.start(
            ChildProcess(
                "datemaker",
                "datemaker",
                ["serve", "--no-migrate"],
                self._env(
                    METRICS_PORT=str(datemaker_port),
                    MEET_API_ENDPOINT=self.stack.meet_endpoint,
                    MEET_CREATIONS_PER_MINUTE=str(ACCOUNT_CREATIONS_PER_MINUTE * self.options.time_scale),
                    MEET_PROJECT_CREATIONS_PER_MINUTE=str(PROJECT_CREATIONS_PER_MINUTE * self.options.time_scale),
                    MEET_RETRY_SECONDS="0.2",
                    RECONCILE_SECONDS="0.25",
                    RESULTS_DELAY_SECONDS="1",
                ),
                log_dir,
            )
        )
        bot = self.children.start(
            ChildProcess(
                "bot",
                "chathub_bot",
                [],
                self._env(
                    TG_BOT_TOKEN=self.stack.telegram_token,
                    TG_API_BASE=self.stack.telegram_url,
                    METRICS_PORT=str(bot_port),
                    WEBAPP_PORT=str(webapp_port),
                    WEBAPP_URL=self.stack.webapp,  # the menu button opens it (http on the loopback, as in tests)
                    TG_BOT_POLLING_TIMEOUT="2",
                ),
                log_dir,
            )
        )
        self.view.line(f"started datemaker (pid {datemaker.pid}) and the bot (pid {bot.pid})")
        await asyncio.gather(
            self._wait_ready(datemaker, self.stack.datemaker_ops), self._wait_ready(bot, self.stack.bot_ops)
        )
        self.view.line(
            f"datemaker ready: metrics on {self.stack.datemaker_ops}/metrics; bot ready: {self.stack.bot_ops}/metrics, "
            f"Mini App {self.stack.webapp}"
        )

    async def _wait_ready(self, child: ChildProcess, ops: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        async with aiohttp.ClientSession() as session:
            while True:
                if not child.running:
                    raise ChildFailed(child, f"exited with code {child.returncode} while starting")
                try:
                    async with session.get(f"{ops}/readyz", timeout=aiohttp.ClientTimeout(total=3)) as response:
                        if response.status == 200:
                            return
                except (aiohttp.ClientError, OSError, TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    raise ChildFailed(child, f"not ready after {READY_TIMEOUT:.0f} s")
                await asyncio.sleep(0.2)

    async def _get_text(self, url: str) -> str:
        assert self._session is not None
        async with self._session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as response:
            return await response.text()

    # --- the event and its people -------------------------------------------------------------

    def _announce_event(self, event_id: int, timeline: EventTimeline) -> None:
        def at(moment: datetime) -> str:
            return f"+{(moment - timeline.created).total_seconds():.0f}s"

        self.view.line(
            f"event {event_id} created (INSERT INTO dating_events): "
            f"confirmations open {at(timeline.confirmations_open)}, "
            f"close {at(timeline.deadline)}; starts {at(timeline.start)}: up to {timeline.max_rounds} rounds of "
            f"{timeline.round_seconds} s with {timeline.break_seconds} s breaks"
        )

    def _start_people(self, client: EmulatorClient, event_id: int, timeline: EventTimeline) -> None:
        assert self._session is not None
        usernames = {p.username: p.user_id for p in self.people if p.username}
        count = len(self.people)
        for i, guest in enumerate(self.people):
            participant = SimulatedParticipant(
                guest,
                client,
                self._session,
                self.stack.meet_control,
                event_id,
                timeline,
                think=self.options.think_seconds,
                seed=self.options.seed,
                usernames=usernames,
                latencies=self.latencies,
            )
            self.participants.append(participant)
            delay = self.options.arrival_seconds * i / max(1, count - 1)
            self._tasks.append(asyncio.create_task(self._arrive(participant, delay)))
        languages = {lang: sum(p.language == lang for p in self.people) for lang in ("ru", "en")}
        silent = sum(not p.confirms for p in self.people)
        reporter = next((p.name for p in self.people if p.reports_first_partner), None)
        app_users = sum(p.uses_mini_app for p in self.people)
        self.view.line(
            f"{count} people open the bot ({self.options.women} women, {self.options.men} men; "
            f"{languages['ru']} in Russian, {languages['en']} in English); {silent} will never confirm"
            + (f"; {reporter} will report a partner" if reporter else "")
            + f"; {app_users} register, confirm, read tonight's date and their matches in the Mini App"
        )

    @staticmethod
    async def _arrive(participant: SimulatedParticipant, delay: float) -> None:
        await asyncio.sleep(delay)
        await participant.run()

    async def _stop_people(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    # --- the live timeline --------------------------------------------------------------------

    async def _watch(
        self, conn: asyncpg.Connection, client: EmulatorClient, event_id: int, timeline: EventTimeline
    ) -> Watch:
        watch = Watch()
        sent: deque[tuple[float, int]] = deque()
        created = timeline.created.timestamp()
        expected_end = timeline.finish().timestamp() + 2
        self.view.start(expected_end - created)
        hard_deadline = expected_end + 90
        results_at: float | None = None
        next_stats = 0.0
        while True:
            now = time.time()
            dead = self.children.dead()
            if dead:
                raise ChildFailed(dead[0], f"exited with code {dead[0].returncode} during the event")
            progress = await services.event_progress(conn, event_id)
            if progress.rounds_planned and not watch.dates_per_round:
                rows = await conn.fetch(
                    "SELECT round_no + 1 AS r, count(*) AS n FROM event_dates WHERE event_id = $1 GROUP BY round_no",
                    event_id,
                )
                watch.dates_per_round = {row["r"]: row["n"] for row in rows}
                expected_end = timeline.finish(progress.rounds_planned).timestamp() + 2
            if now >= next_stats:
                next_stats = now + 1.0
                telegram = await client.stats()
                watch.accepted, watch.too_many = telegram["messages_accepted"], telegram["too_many_requests"]
                sent.append((now, watch.accepted))
                while len(sent) > 2 and sent[0][0] < now - RATE_WINDOW:
                    sent.popleft()
                if len(sent) >= 2:
                    watch.rate = (sent[-1][1] - sent[0][1]) / max(0.5, sent[-1][0] - sent[0][0])
                    watch.peak_rate = max(watch.peak_rate, watch.rate)
            self._narrate(watch, progress, timeline, now)
            self.view.update(
                self._phase(progress, timeline, now), min(now, expected_end) - created, self._status(watch)
            )
            if progress.state in ("SKIPPED", "CANCELLED"):
                break
            if progress.finished and progress.results_collected:
                results_at = results_at or now
                if all(p.done.is_set() for p in self.participants) or now - results_at > GRACE_AFTER_RESULTS:
                    break
            if now > hard_deadline:
                self.view.line("[red]the event did not finish in time[/red]")
                break
            await asyncio.sleep(0.25)
        return watch

    def _narrate(self, watch: Watch, progress: services.EventProgress, timeline: EventTimeline, now: float) -> None:
        line = self.view.line
        facts = [p.facts for p in self.participants]
        count = len(facts)
        for key, value, text in (
            ("profiles", sum(f.profile_saved for f in facts), f"all {count} profiles saved through the dialog"),
            ("registered", sum(f.registered for f in facts), f"all {count} registered by tapping the event's button"),
        ):
            if value == count and key not in watch.milestones:
                watch.milestones.add(key)
                line(text)
        confirmers = sum(p.confirms for p in self.people)
        if sum(f.confirmed for f in facts) == confirmers and "confirmed" not in watch.milestones:
            watch.milestones.add("confirmed")
            line(f"{confirmers} confirmed by tapping the button; {count - confirmers} left the request unanswered")
        if progress.state != watch.state:
            watch.state = progress.state
            if progress.state == "NOT_STARTED":
                line("[bold]NOT_STARTED[/bold]: registration open")
            elif progress.state == "REG_CONFIRM":
                line(
                    f"[bold]REG_CONFIRM[/bold]: confirmations open: the {progress.registered} registered so far are "
                    "asked to confirm, later ones as they register"
                )
            elif progress.state == "READY":
                line(
                    f"[bold]READY[/bold]: deadline passed; {progress.confirmed} confirmed → {progress.groups} "
                    f"group(s), {progress.rounds_planned} rounds, {sum(watch.dates_per_round.values())} dates; "
                    "Meet spaces being made"
                )
            elif progress.state == "RUNNING":
                line("[bold]RUNNING[/bold]")
            elif progress.state == "FINISHED":
                line("[bold]FINISHED[/bold]: final messages and mutual matches go out")
            else:
                line(f"[bold]{progress.state}[/bold]")
        if progress.rules_sent and not watch.rules:
            watch.rules = True
            line("rules sent")
        while watch.ended < progress.rounds_ended:
            watch.ended += 1
            r = watch.ended
            calls: dict[str, list[bool]] = {}
            for p in self.participants:
                for invite in p.facts.invites:
                    if invite.round == r:
                        calls.setdefault(invite.url, []).append(r in p.facts.joined_rounds)
            both = sum(len(joined) == 2 and all(joined) for joined in calls.values())
            line(f"round {r} over: {both} calls had both people in them; calls ended, rating requests out")
        while watch.links_out < progress.rounds_started:
            watch.links_out += 1
            lead = timeline.round_start(watch.links_out).timestamp() - now
            line(f"round {watch.links_out}: links out, {lead:.1f} s before it starts")
        while watch.started < progress.rounds_planned and now >= timeline.round_start(watch.started + 1).timestamp():
            watch.started += 1
            line(f"[bold]round {watch.started} starts[/bold]: {watch.dates_per_round.get(watch.started, 0)} calls")
        if progress.results_collected and not watch.results:
            watch.results = True
            line("results saved: who joined which call, from Meet's conference records")

    @staticmethod
    def _phase(progress: services.EventProgress, timeline: EventTimeline, now: float) -> str:
        if progress.state in ("NOT_STARTED", "REG_CONFIRM"):
            return "registration"
        if progress.state == "READY":
            return "ready"
        if progress.state == "RUNNING":
            for r in range(1, progress.rounds_planned + 1):
                if now < timeline.round_end(r).timestamp():
                    return f"round {r}" if now >= timeline.round_start(r).timestamp() else f"break before {r}"
            return "last break"
        return progress.state.lower()

    def _status(self, watch: Watch) -> str:
        facts = [p.facts for p in self.participants]
        registered, confirmed = sum(f.registered for f in facts), sum(f.confirmed for f in facts)
        return (
            f"{watch.rate:4.1f} msg/s, {watch.accepted} sent, {watch.too_many} × 429 │ "
            f"{registered}/{len(facts)} registered, {confirmed} confirmed, "
            f"{sum(bool(f.ratings) for f in facts)} rated, {sum(f.matches is not None for f in facts)} got matches"
        )

    # --- the end ------------------------------------------------------------------------------

    async def _linger(self) -> None:
        self.console.print(
            f"Services keep running: datemaker's metrics on {self.stack.datemaker_ops}/metrics. Ctrl-C to stop."
        )
        await asyncio.Event().wait()

    async def _clean_up(self) -> None:
        try:
            await services.drop_database(self.settings)
            await services.delete_queues(self.settings)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            self.errors.print(f"demo: cleaning up failed: {exc}")

    def _report(self, outcome: RunOutcome, exit_codes: dict[str, int | None]) -> int:
        people = [p.facts for p in self.participants]
        tally = checks.tally(outcome.event, people)
        results = checks.run_checks(outcome.event, people)
        histogram = stats.histogram_from_metrics(outcome.metrics_text, COMMAND_HISTOGRAM)
        answers = [seconds for _, seconds in self.latencies]
        figures = report.Figures(
            event_id=outcome.event.event_id,
            state=outcome.event.state,
            rounds=outcome.event.rounds,
            record=outcome.record,
            meet=outcome.meet,
            telegram=outcome.telegram,
            peak_rate=outcome.peak_rate,
            rate_window=RATE_WINDOW,
            command_p50=histogram.quantile(0.5),
            command_p99=histogram.quantile(0.99),
            command_count=int(histogram.count),
            answer_p50=stats.percentile(answers, 0.5),
            answer_p99=stats.percentile(answers, 0.99),
            answer_count=len(answers),
            metrics_url=f"{self.stack.datemaker_ops}/metrics",
            duration=time.monotonic() - self.started,
            exit_codes=exit_codes,
            stop_seconds={c.name: c.stop_seconds for c in self.children.started},
            log_dir=str(self.log_dir or "–"),
            database=self.settings.postgres_db,
            kept=not self.options.cleanup,
        )
        self.console.print()
        report.render(self.console, tally, figures, results)
        problems = [f"{p.name}: {problem}" for p in people for problem in p.problems]
        for problem in problems[:10]:
            self.console.print(f"  [yellow]![/yellow] {problem}", highlight=False)
        code = EXIT_OK if all(r.passed for r in results) else EXIT_CHECKS_FAILED
        if self.options.report_json:
            document = {
                "exit_code": code,
                "checks": [dataclasses.asdict(r) for r in results],
                "tally": dataclasses.asdict(tally),
                "figures": dataclasses.asdict(figures),
                "problems": problems,
            }
            Path(self.options.report_json).write_text(json.dumps(document, indent=2, default=str))
        return code
