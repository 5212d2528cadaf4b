"""docs/protocol.md and contracts/ say the same thing.

Each set below names what the contract documents and the code does not do yet; the issue that builds it
removes it from here. Anything else the contract names must exist in the code, and everything the code
declares must be in the contract.
"""

from contracts.commands import COMMANDS
from contracts.errors import ErrorCode
from contracts.notifications import NOTIFICATIONS
from tests.support import protocol

NOT_BUILT_COMMANDS: set[str] = set()
NOT_BUILT_NOTIFICATIONS: set[str] = set()
NOT_BUILT_ERROR_CODES: set[str] = set()
NOT_BUILT_VARIABLES: set[str] = set()


def test_every_documented_command_has_its_class_and_every_class_is_documented():
    assert set(COMMANDS) == protocol.commands() - NOT_BUILT_COMMANDS
    assert not NOT_BUILT_COMMANDS & set(COMMANDS), "built now: take it off NOT_BUILT_COMMANDS"


def test_every_documented_notification_has_its_class_and_every_class_is_documented():
    assert set(NOTIFICATIONS) == protocol.notifications() - NOT_BUILT_NOTIFICATIONS
    assert not NOT_BUILT_NOTIFICATIONS & set(NOTIFICATIONS), "built now: take it off NOT_BUILT_NOTIFICATIONS"


def test_every_documented_error_code_exists():
    codes = {code.value for code in ErrorCode}
    assert protocol.error_codes() - NOT_BUILT_ERROR_CODES <= codes
    assert not NOT_BUILT_ERROR_CODES & codes, "built now: take it off NOT_BUILT_ERROR_CODES"


def test_every_documented_variable_is_a_setting():
    from chathub_bot.config import BotSettings
    from datemaker.config import Settings

    settings = {name.upper() for name in (*Settings.model_fields, *BotSettings.model_fields)}
    documented = protocol.variables()
    assert documented - NOT_BUILT_VARIABLES <= settings, documented - NOT_BUILT_VARIABLES - settings
    assert not NOT_BUILT_VARIABLES & settings, "built now: take it off NOT_BUILT_VARIABLES"
