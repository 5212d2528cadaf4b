"""A Telegram Bot API emulator (aiohttp) for tests and the demo, with simulated users.

- :class:`BotApiEmulator`: the server; start it in-process with ``await emulator.start()`` (port 0 by
  default) and drive users with its methods (``send_text``, ``send_sticker``, ``send_photo``, ``press``,
  ``block``, ``messages``, ``wait_for``), or run ``python -m chathub_sim.telegram --port 0``.
- :class:`EmulatorClient`: the same user actions over the HTTP control API, from any process.
"""

from chathub_sim.telegram.client import BotMessage, EmulatorClient, EmulatorError, SimulatedUser
from chathub_sim.telegram.server import DEFAULT_TOKEN, ApiError, BotApiEmulator, ChatMessage, RateLimits

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "BotApiEmulator",
    "BotMessage",
    "ChatMessage",
    "EmulatorClient",
    "EmulatorError",
    "RateLimits",
    "SimulatedUser",
]
