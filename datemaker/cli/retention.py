"""``retention``: delete, once, the personal data of events finished more than ``RETENTION_DAYS`` ago,
keeping each event's anonymous counts (``event_stats``); ``--dry-run`` only tells what would go."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from datemaker.config import Settings

EXIT_BAD_INPUT = 2


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "retention",
        help="delete the personal data of long-finished events (keeps their counts)",
        description="Deletes call attendance, report reasons and messages of events finished more than "
        "RETENTION_DAYS (default 90) days ago, and older idempotency records, after storing each event's "
        "counts in event_stats. Prints what it deleted.",
    )
    parser.add_argument("--dry-run", action="store_true", help="change nothing; print what would be deleted")
    parser.add_argument("--days", type=int, metavar="N", help="retention period in days (default RETENTION_DAYS)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    import asyncpg

    from datemaker.adapters.postgres.organizer import DatabaseUnavailable

    days = args.days if args.days is not None else settings.retention_days
    if days < 1:
        print(f"datemaker retention: the retention period must be at least 1 day, not {days}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return asyncio.run(_run(settings, days, args.dry_run))
    except DatabaseUnavailable as exc:
        print(f"datemaker retention: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except asyncpg.PostgresError as exc:
        print(f"datemaker retention: database error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1


async def _run(settings: Settings, days: int, dry_run: bool) -> int:
    from datemaker.adapters.postgres.organizer import open_pool
    from datemaker.adapters.postgres.retention import PostgresRetentionDatabase
    from datemaker.service.retention import PurgedEvent, purge_expired

    pool = await open_pool(
        settings.postgres_dsn(),
        server=f"{settings.postgres_host}:{settings.postgres_port}",
        database=settings.postgres_db,
    )
    verb = "would delete" if dry_run else "deleted"

    def tell(done: PurgedEvent) -> None:
        e, p = done.event, done.purged
        counts = "counts saved; " if done.stats_saved else ""
        print(
            f"event {e.event_id} ({e.state.name.lower()} {e.closed_at.astimezone(UTC):%Y-%m-%d}): {counts}{verb} "
            f"{p.attendance} call attendance record(s), {p.report_reasons} report reason(s), "
            f"{p.messages} message(s)",
            flush=True,
        )

    try:
        report = await purge_expired(
            PostgresRetentionDatabase(pool), datetime.now(UTC), days, dry_run=dry_run, on_event=tell
        )
    finally:
        await pool.close()
    cutoff = f"{report.cutoff.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    if not report.events:
        print(f"no event finished before {cutoff} has personal data left")
    print(f"{verb} {report.processed_messages} idempotency record(s) older than a week")
    erase = "would erase" if dry_run else "erased"
    print(f"{erase} {report.erased_profiles} profile(s) of people inactive since {cutoff}")
    if report.stray_messages:
        print(f"{verb} {report.stray_messages} message(s) of no event older than {cutoff}")
    done = "would be deleted" if dry_run else "deleted"
    summary = f"{len(report.events)} event(s) past the {days}-day retention period; {report.total} record(s) {done}"
    print(summary + (" (dry run: nothing was changed)" if dry_run else ""))
    return 0
