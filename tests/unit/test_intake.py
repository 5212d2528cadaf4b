"""The intake's decisions about each delivery, with the processor and broker replaced by in-memory fakes."""

import json

from chathub_common.delivery import Disposition
from contracts import topology
from contracts.commands import EventList
from contracts.envelope import Incoming, Reply
from datemaker.service.dispatch import CommandProcessor, Outcome
from datemaker.service.intake import CommandIntake


class RecordingPublisher:
    def __init__(self, fail: bool = False):
        self.sent = []
        self.fail = fail

    async def publish(self, routing_key, body, *, type, message_id=None, correlation_id=None, headers=None):
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append({"key": routing_key, "body": json.loads(body), "type": type, "id": message_id,
                          "correlation_id": correlation_id, "headers": headers})  # fmt: skip
        return message_id


class Metrics:
    def __init__(self):
        self.processed, self.dead = [], []

    def command_processed(self, command, result, seconds):
        self.processed.append((command, result))

    def dead_lettered(self, reason):
        self.dead.append(reason)

    def deferred(self):
        self.dead.append("deferred")


class FailingProcessor(CommandProcessor):
    def __init__(self, error):
        self.error = error

    async def process(self, incoming):
        raise self.error


class Transient(Exception):
    pass


def intake(processor, publisher, metrics=None):
    return CommandIntake(
        processor, publisher, "tg_bot_dev", transient_errors=(Transient,), metrics=metrics, hold_seconds=0
    )


async def test_message_without_id_is_dead_lettered_not_answered():
    publisher, metrics = RecordingPublisher(), Metrics()
    processor = CommandProcessor(database=None, clock=None)
    disposition = await intake(processor, publisher, metrics)(Incoming(body=b"{}", type="list_events"))
    assert disposition is Disposition.DEAD_LETTER
    assert publisher.sent == [] and metrics.dead == ["unidentifiable"]


async def test_invalid_command_is_answered_without_touching_the_database():
    publisher, metrics = RecordingPublisher(), Metrics()
    processor = CommandProcessor(database=None, clock=None)
    incoming = Incoming(body=b"{", type="register_event", message_id="abc", headers={"user_id": "7", "chat_id": 7})
    assert await intake(processor, publisher, metrics)(incoming) is Disposition.ACK
    [reply] = publisher.sent
    assert reply["type"] == "register_event.result" and reply["id"] == "abc.result"
    assert reply["correlation_id"] == "abc" and reply["headers"] == {"user_id": "7", "chat_id": 7}
    assert reply["body"]["error"]["code"] == "bad_request"
    assert metrics.processed == [("register_event", "bad_request")]


async def test_hostile_type_and_id_do_not_break_the_reply_envelope():
    publisher = RecordingPublisher()
    incoming = Incoming(body=b"{}", type="X" * 255, message_id="m" * 255, headers={"user_id": 1})
    assert await intake(CommandProcessor(None, None), publisher)(incoming) is Disposition.ACK
    [reply] = publisher.sent
    assert reply["type"] == "unknown.result" and len(reply["id"]) <= 255
    assert reply["body"]["error"]["code"] == "unknown_command"


async def test_unpublishable_reply_means_retry():
    incoming = Incoming(body=b"{", type="register_event", message_id="abc", headers={"user_id": 7})
    assert await intake(CommandProcessor(None, None), RecordingPublisher(fail=True))(incoming) is Disposition.RETRY


async def test_a_database_outage_defers_the_command_without_using_up_its_deliveries():
    incoming = Incoming(body=b"{}", type="list_events", message_id="a", headers={"user_id": 7}, delivery_count=4)
    publisher = RecordingPublisher()
    assert await intake(FailingProcessor(Transient()), publisher)(incoming) is Disposition.DEFER
    assert publisher.sent == []


class RecoveringProcessor(CommandProcessor):
    """Fails as an unreachable database does, ``failures`` times, then answers."""

    def __init__(self, failures):
        self.failures = failures

    async def process(self, incoming):
        if self.failures:
            self.failures -= 1
            raise Transient()
        return Outcome("list_events", "ok", Reply.success(EventList(events=[])), {"user_id": 7})


async def test_a_command_held_through_a_short_outage_is_answered_once():
    incoming = Incoming(body=b"{}", type="list_events", message_id="a", headers={"user_id": 7})
    publisher = RecordingPublisher()
    consumer = CommandIntake(
        RecoveringProcessor(2), publisher, "tg_bot_dev", transient_errors=(Transient,), hold_seconds=5
    )
    assert await consumer(incoming) is Disposition.ACK
    [reply] = publisher.sent
    assert reply["correlation_id"] == "a" and reply["body"]["ok"] is True


async def test_a_bug_is_retried_then_answered_and_dead_lettered_on_the_last_delivery():
    publisher, metrics = RecordingPublisher(), Metrics()
    consumer = intake(FailingProcessor(RuntimeError("bug")), publisher, metrics)
    early = Incoming(body=b"{}", type="list_events", message_id="a", headers={"user_id": 7}, delivery_count=0)
    assert await consumer(early) is Disposition.RETRY
    last = Incoming(body=b"{}", type="list_events", message_id="a", headers={"user_id": 7},
                    delivery_count=topology.DELIVERY_LIMIT - 1)  # fmt: skip
    assert await consumer(last) is Disposition.DEAD_LETTER
    [reply] = publisher.sent
    assert reply["body"]["error"]["code"] == "internal_error" and metrics.dead == ["failed"]
