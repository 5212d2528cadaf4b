"""Logging set-up for both services' entry points."""

import logging
import sys


def setup_logging(debug: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    if not debug:
        for noisy in ("aiormq", "aio_pika", "apscheduler.executors", "apscheduler.scheduler"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
