"""MEET_API_ENDPOINT parsing: Google's endpoint by default, loopback addresses mean the emulator."""

import pytest

from datemaker.adapters.meet.endpoint import GOOGLE_ENDPOINT, MeetEndpoint, is_loopback_host, parse_endpoint


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, GOOGLE_ENDPOINT),
        ("", GOOGLE_ENDPOINT),
        ("   ", GOOGLE_ENDPOINT),
        ("127.0.0.1:50051", MeetEndpoint("127.0.0.1", 50051, loopback=True)),
        ("127.3.2.1:7", MeetEndpoint("127.3.2.1", 7, loopback=True)),
        ("localhost:50051", MeetEndpoint("localhost", 50051, loopback=True)),
        ("LOCALHOST:1", MeetEndpoint("LOCALHOST", 1, loopback=True)),
        ("[::1]:50051", MeetEndpoint("::1", 50051, loopback=True)),
        (" 127.0.0.1:50051 ", MeetEndpoint("127.0.0.1", 50051, loopback=True)),
        ("grpc://127.0.0.1:50051/", MeetEndpoint("127.0.0.1", 50051, loopback=True)),
        ("meet.googleapis.com", MeetEndpoint("meet.googleapis.com", 443, loopback=False)),
        ("meet.googleapis.com:443", MeetEndpoint("meet.googleapis.com", 443, loopback=False)),
        ("https://meet.googleapis.com", MeetEndpoint("meet.googleapis.com", 443, loopback=False)),
        ("10.0.0.5:50051", MeetEndpoint("10.0.0.5", 50051, loopback=False)),
        ("[2001:db8::1]:443", MeetEndpoint("2001:db8::1", 443, loopback=False)),
        ("[2001:db8::1]", MeetEndpoint("2001:db8::1", 443, loopback=False)),
        ("localhost.example.com:80", MeetEndpoint("localhost.example.com", 80, loopback=False)),
    ],
)
def test_parse_endpoint(value, expected):
    assert parse_endpoint(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "127.0.0.1",  # an emulator needs a port
        "localhost",
        "[::1]",
        "::1:50051",  # IPv6 without brackets is ambiguous
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:port",
        ":50051",
        "meet.googleapis.com:",
        "host/path:80",
    ],
)
def test_parse_endpoint_rejects(value):
    with pytest.raises(ValueError, match="Meet API endpoint"):
        parse_endpoint(value)


def test_address_and_grpc_target():
    assert parse_endpoint("[::1]:5").address == "[::1]:5"
    assert parse_endpoint("[::1]:5").grpc_target == "ipv6:[::1]:5"
    assert parse_endpoint("127.0.0.1:5").grpc_target == "ipv4:127.0.0.1:5"
    assert parse_endpoint("localhost:5").grpc_target == "localhost:5"
    assert GOOGLE_ENDPOINT.address == "meet.googleapis.com:443"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.1", False),
        ("example.com", False),
        ("::", False),
    ],
)
def test_is_loopback_host(host, loopback):
    assert is_loopback_host(host) is loopback
