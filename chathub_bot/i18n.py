"""Localisation: gettext catalogs (Russian by default, English) through aiogram's i18n.

Source strings are English; ``locales/<lang>/LC_MESSAGES/messages.po`` hold the translations and the
compiled ``.mo`` files are committed next to them. After changing texts::

    .venv/bin/python -m chathub_bot.i18n update    # extract, merge into the .po files (then translate)
    .venv/bin/python -m chathub_bot.i18n compile   # .po -> .mo

A unit test fails when a ``.mo`` is stale or a string has no Russian translation.
"""

from __future__ import annotations

import collections
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware

logger = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
LOCALES = ("ru", "en")
DEFAULT_LOCALE = "ru"
KEYWORDS = ("_", "_:1,2,3t", "__")
"""Extraction keywords: ``_`` (``gettext``, also with a plural form) and ``__`` (``lazy_gettext``)."""


def build_i18n(default_locale: str = DEFAULT_LOCALE) -> I18n:
    return I18n(path=LOCALES_DIR, default_locale=default_locale, domain=DOMAIN)


def choose_locale(language_code: str | None, default: str = DEFAULT_LOCALE) -> str:
    """The catalog for a Telegram ``language_code`` (``en-GB`` → ``en``); others get ``default``."""
    if not language_code:
        return default
    language = language_code.replace("_", "-").split("-", 1)[0].lower()
    return language if language in LOCALES else default


class LanguageBook:
    """The locale each user was last seen with, for messages that do not answer an update (bounded)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._locales: collections.OrderedDict[int, str] = collections.OrderedDict()

    def remember(self, user_id: int, locale: str) -> None:
        self._locales[user_id] = locale
        self._locales.move_to_end(user_id)
        while len(self._locales) > self._capacity:
            self._locales.popitem(last=False)

    def get(self, user_id: int) -> str | None:
        return self._locales.get(user_id)


class LocaleMiddleware(I18nMiddleware):
    """Picks the catalog from the acting user's ``language_code`` and remembers it in a :class:`LanguageBook`."""

    def __init__(self, i18n: I18n, languages: LanguageBook) -> None:
        super().__init__(i18n)
        self.languages = languages

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user: User | None = data.get("event_from_user")
        if user is None:
            return self.i18n.default_locale
        locale = choose_locale(user.language_code, self.i18n.default_locale)
        self.languages.remember(user.id, locale)
        return locale


def _pybabel(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], check=True)


def update_catalogs() -> None:
    """Extract the strings of ``chathub_bot`` and merge them into each locale's ``.po``."""
    pot = LOCALES_DIR / f"{DOMAIN}.pot"
    keywords = [arg for keyword in KEYWORDS for arg in ("-k", keyword)]
    _pybabel(
        "extract",
        "--no-default-keywords",
        *keywords,
        "--no-location",
        "--sort-output",
        "--omit-header",
        "-o",
        str(pot),
        str(Path(__file__).parent),
    )
    for locale in LOCALES:
        po = LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        command = "update" if po.exists() else "init"
        _pybabel(command, "-i", str(pot), "-d", str(LOCALES_DIR), "-D", DOMAIN, "-l", locale, "--no-wrap")
        text = po.read_text(encoding="utf-8")
        po.write_text(text.replace('"Report-Msgid-Bugs-To: EMAIL@ADDRESS\\n"\n', ""), encoding="utf-8")


def compile_catalogs() -> None:
    """``.po`` → ``.mo`` for every locale."""
    _pybabel("compile", "-d", str(LOCALES_DIR), "-D", DOMAIN, "--use-fuzzy")


if __name__ == "__main__":
    action = sys.argv[1] if len(sys.argv) > 1 else ""
    if action == "update":
        update_catalogs()
    elif action == "compile":
        compile_catalogs()
    else:
        print("usage: python -m chathub_bot.i18n update|compile", file=sys.stderr)
        sys.exit(2)
