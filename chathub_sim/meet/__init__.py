"""Google Meet API emulator: ``MeetEmulator`` (gRPC, in memory) and its HTTP ``ControlServer``.

Run it as a process with ``python -m chathub_sim.meet --port 0 --control-port 0``.
"""

from chathub_sim.meet.control import ControlServer, make_control_app
from chathub_sim.meet.server import MeetEmulator, UnknownMeeting, parse_filter

__all__ = ["ControlServer", "MeetEmulator", "UnknownMeeting", "make_control_app", "parse_filter"]
