"""The wire contract: parsing on arrival, the seed's legacy form, and clear errors."""

import json

import pytest

from contracts import topology
from contracts.commands import COMMANDS, RegisterEvent, UpsertProfile
from contracts.envelope import MAX_BODY_BYTES, Headers, Incoming, Reply, parse, reply_type
from contracts.errors import ContractError, ErrorCode
from contracts.notifications import NOTIFICATIONS

PROFILE = {"name": "Ann", "gender": "F", "birthday": "1994-03-01", "city": "msk"}


def parse_body(body, type_=None, **headers):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers.setdefault("user_id", 42)
    return parse(Incoming(body=raw, message_id="m1", type=type_, headers=headers), COMMANDS)


def error_of(*args, **kwargs) -> ContractError:
    with pytest.raises(ContractError) as info:
        parse_body(*args, **kwargs)
    return info.value


def test_json_command_is_validated_into_its_model():
    command = parse_body({"event_id": 7}, "register_event")
    assert command.name == "register_event"
    assert command.args == RegisterEvent(event_id=7)
    assert command.user_id == 42
    assert command.headers.chat_id == 42  # defaults to the user's private chat


def test_legacy_bare_name_with_string_headers():
    command = parse_body(b"register_event", None, user_id="42", chat_id="-100", message_id="9", event_id="7")
    assert command.args.event_id == 7
    assert command.headers == Headers(user_id=42, chat_id=-100, message_id=9, event_id=7)


def test_legacy_name_as_json_string_and_boolean_header():
    command = parse_body(b'"confirm_registration"', None, event_id="3", attending="false")
    assert command.args.event_id == 3 and command.args.attending is False


def test_event_id_header_fills_a_missing_body_field():
    assert parse_body({}, "register_event", event_id="5").args.event_id == 5
    assert parse_body({"event_id": 6}, "register_event", event_id="5").args.event_id == 6


def test_profile_fields_are_trimmed_and_typed():
    args = parse_body({**PROFILE, "name": "  Ann  ", "seeking": ["M"]}, "upsert_profile").args
    assert isinstance(args, UpsertProfile)
    assert args.name == "Ann" and args.birthday.year == 1994 and args.seeking == ["M"]


@pytest.mark.parametrize(
    ("body", "type_", "code", "fragment"),
    [
        (b"{not json", "register_event", ErrorCode.BAD_REQUEST, "not valid json"),
        (b"[1, 2]", "register_event", ErrorCode.BAD_REQUEST, "json object"),
        (b"\xff\xfe", "register_event", ErrorCode.BAD_REQUEST, "utf-8"),
        ({"event_id": 1}, "drop_tables", ErrorCode.UNKNOWN_COMMAND, "drop_tables"),
        ({"event_id": 1}, None, ErrorCode.BAD_REQUEST, "no type"),
        ({}, "register_event", ErrorCode.BAD_REQUEST, "event_id: field required"),
        ({"event_id": "7"}, "register_event", ErrorCode.BAD_REQUEST, "event_id"),
        ({"event_id": 7.5}, "register_event", ErrorCode.BAD_REQUEST, "event_id"),
        ({"event_id": True}, "register_event", ErrorCode.BAD_REQUEST, "event_id"),
        ({"event_id": -1}, "register_event", ErrorCode.BAD_REQUEST, "greater than 0"),
        ({"event_id": 2**70}, "register_event", ErrorCode.BAD_REQUEST, "event_id"),
        ({"event_id": 1, "attending": "yes"}, "confirm_registration", ErrorCode.BAD_REQUEST, "attending"),
        ({**PROFILE, "gender": "X"}, "upsert_profile", ErrorCode.BAD_REQUEST, "gender"),
        ({**PROFILE, "birthday": "2023-02-30"}, "upsert_profile", ErrorCode.BAD_REQUEST, "birthday"),
        ({**PROFILE, "birthday": 19940301}, "upsert_profile", ErrorCode.BAD_REQUEST, "birthday"),
        ({**PROFILE, "name": "   "}, "upsert_profile", ErrorCode.BAD_REQUEST, "name"),
        ({**PROFILE, "name": "x" * 65}, "upsert_profile", ErrorCode.BAD_REQUEST, "name"),
        ({**PROFILE, "name": "An\x00na"}, "upsert_profile", ErrorCode.BAD_REQUEST, "control characters"),
        ({**PROFILE, "bio": "bell\x07"}, "upsert_profile", ErrorCode.BAD_REQUEST, "control characters"),
        ({**PROFILE, "username": "a b; drop"}, "upsert_profile", ErrorCode.BAD_REQUEST, "username"),
        ({"event_id": 1, "partner_id": 2, "verdict": "love"}, "rate_partner", ErrorCode.BAD_REQUEST, "verdict"),
        (b"register_event", "cancel_registration", ErrorCode.BAD_REQUEST, "type property"),
        ({}, "organizer_dismiss_report", ErrorCode.BAD_REQUEST, "report_id: field required"),
        ({"report_id": 0}, "organizer_dismiss_report", ErrorCode.BAD_REQUEST, "greater than 0"),
        ({"report_id": "5"}, "organizer_dismiss_report", ErrorCode.BAD_REQUEST, "report_id"),
        ({"report_id": 2**63}, "organizer_dismiss_report", ErrorCode.BAD_REQUEST, "report_id"),
        ({"user_id": True}, "organizer_unban_user", ErrorCode.BAD_REQUEST, "user_id"),
        ({"user_id": -3}, "organizer_unban_user", ErrorCode.BAD_REQUEST, "greater than 0"),
    ],
)
def test_bad_commands_get_a_clear_error(body, type_, code, fragment):
    error = error_of(body, type_)
    assert error.code == code
    assert fragment in error.message.lower()


def test_oversized_body_is_refused_before_parsing():
    error = error_of(b"{" + b" " * MAX_BODY_BYTES + b"}", "list_events")
    assert error.code == ErrorCode.PAYLOAD_TOO_LARGE


@pytest.mark.parametrize("user_id", [None, "abc", "1.5", True, ""])
def test_missing_or_malformed_user_header(user_id):
    headers = {} if user_id is None else {"user_id": user_id}
    with pytest.raises(ContractError) as info:
        parse(Incoming(body=b"{}", message_id="m", type="list_events", headers=headers), COMMANDS)
    assert info.value.code == ErrorCode.BAD_REQUEST
    assert "user_id" in info.value.message


def test_deeply_nested_json_is_a_bad_request_not_a_crash():
    error = error_of(b"[" * 100_000, "list_events")
    assert error.code in (ErrorCode.BAD_REQUEST, ErrorCode.PAYLOAD_TOO_LARGE)


def test_reply_bodies():
    ok = json.loads(Reply.success(RegisterEvent(event_id=1)).to_body())
    assert ok == {"ok": True, "data": {"event_id": 1}}
    failed = json.loads(Reply.failure(ErrorCode.EVENT_FULL, "full").to_body())
    assert failed == {"ok": False, "error": {"code": "event_full", "message": "full"}}
    assert reply_type("register_event") == "register_event.result"


def test_topology_names_and_dead_lettering():
    specs = {spec.name: spec for spec in topology.queues("dev", "chathub_direct_main")}
    assert set(specs) == {"datemaker_dev", "tg_bot_dev", "datemaker_dev.dead", "tg_bot_dev.dead"}
    args = specs["datemaker_dev"].arguments
    assert args["x-dead-letter-exchange"] == "chathub_direct_main"
    assert args["x-dead-letter-routing-key"] == "datemaker_dev.dead"
    assert args["x-delivery-limit"] == topology.DELIVERY_LIMIT


def test_broker_url_quotes_credentials_and_can_use_tls():
    from chathub_common.rabbit import amqp_url

    assert amqp_url("mq", 5672, "/", "guest", "guest") == "amqp://guest:guest@mq:5672/%2F"
    assert amqp_url("mq", 5671, "chathub", "dm", "p@ss:/", tls=True) == "amqps://dm:p%40ss%3A%2F@mq:5671/chathub"


def test_every_command_has_its_handler_and_every_notification_its_renderer():
    from chathub_bot.notifications import RENDERERS
    from datemaker.service.commands import HANDLERS

    assert set(HANDLERS) == set(COMMANDS.values())
    assert set(RENDERERS) == set(NOTIFICATIONS.values())


def test_a_message_class_declares_its_name_reply_and_priority_once():
    from contracts.commands import Command, RegisterResult
    from contracts.notifications import InviteToMeeting, Notification, Priority, SendRules

    assert (RegisterEvent.type, RegisterEvent.reply) == ("register_event", RegisterResult)
    assert COMMANDS["register_event"] is RegisterEvent
    assert InviteToMeeting.priority is Priority.URGENT and SendRules.priority is Priority.NORMAL
    with pytest.raises(TypeError, match="two commands"):

        class Again(Command[RegisterResult], name="register_event"):
            pass

    with pytest.raises(TypeError, match="must name its reply"):

        class NoReply(Command, name="no_reply"):  # type: ignore[type-arg]
            pass

    with pytest.raises(TypeError, match="two notifications"):

        class Twice(Notification, name="send_rules"):
            pass

    assert "no_reply" not in COMMANDS
