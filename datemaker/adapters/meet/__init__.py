"""Google Meet adapter: ``create_meet(...)`` builds the ``Meet`` port for the composition root."""

from datemaker.adapters.meet.accounts import MeetAccounts
from datemaker.adapters.meet.client import GoogleMeet, MeetOptions, account_name, create_meet, merge_attendance
from datemaker.adapters.meet.credentials import SCOPES, MeetCredentialsError, login
from datemaker.adapters.meet.endpoint import GOOGLE_ENDPOINT, MeetEndpoint, parse_endpoint
from datemaker.adapters.meet.pacing import RateLimiter, backoff_delay

__all__ = [
    "GOOGLE_ENDPOINT",
    "SCOPES",
    "GoogleMeet",
    "MeetAccounts",
    "MeetCredentialsError",
    "MeetEndpoint",
    "MeetOptions",
    "RateLimiter",
    "account_name",
    "backoff_delay",
    "create_meet",
    "login",
    "merge_attendance",
    "parse_endpoint",
]
