"""The gettext catalogs: complete in Russian, compiled .mo files up to date, locale choice."""

from __future__ import annotations

import gettext
import io

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from chathub_bot.i18n import DOMAIN, LOCALES, LOCALES_DIR, build_i18n, choose_locale


def catalog(locale: str):
    with (LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        return read_po(po, locale=locale)


def used_strings() -> set[str]:
    package = LOCALES_DIR.parent
    found = set()
    keywords = {"_": None, "__": None}
    for _, _, message, _, _ in extract_from_dir(str(package), keywords=keywords):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_string_in_the_code_has_a_russian_translation():
    ru = catalog("ru")
    translated = {m.id if isinstance(m.id, str) else m.id[0] for m in ru if m.id and m.string and all(m.string)}
    missing = used_strings() - translated
    assert not missing, f"run `python -m chathub_bot.i18n update`, translate, then compile: {sorted(missing)[:5]}"
    assert not [m.id for m in ru if m.id and m.fuzzy], "fuzzy translations left"


@pytest.mark.parametrize("locale", LOCALES)
def test_compiled_catalogs_match_the_po_files(locale):
    compiled = io.BytesIO()
    write_mo(compiled, catalog(locale), use_fuzzy=True)
    compiled.seek(0)
    expected = gettext.GNUTranslations(compiled)
    with (LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as mo:
        shipped = gettext.GNUTranslations(mo)
    assert shipped._catalog == expected._catalog, "the .mo is stale: run `python -m chathub_bot.i18n compile`"


def test_translation_and_plural_forms():
    i18n = build_i18n()
    with i18n.context(), i18n.use_locale("ru"):
        assert i18n.gettext("Skip") == "Пропустить"
        forms = [i18n.gettext("{n} spot left", "{n} spots left", n).format(n=n) for n in (1, 3, 5, 21)]
        assert forms == ["осталось 1 место", "осталось 3 места", "осталось 5 мест", "осталось 21 место"]
    with i18n.context(), i18n.use_locale("en"):
        assert i18n.gettext("Skip") == "Skip"
        assert i18n.gettext("{n} spot left", "{n} spots left", 2).format(n=2) == "2 spots left"


@pytest.mark.parametrize(
    ("code", "locale"), [("ru", "ru"), ("en", "en"), ("en-US", "en"), ("EN_gb", "en"), ("de", "ru"), (None, "ru")]
)
def test_locale_from_telegram_language_code(code, locale):
    assert choose_locale(code) == locale


def test_every_refusal_a_person_can_meet_has_its_own_words():
    from chathub_bot import texts
    from contracts.errors import ErrorCode

    i18n = build_i18n()
    internal = {ErrorCode.UNKNOWN_COMMAND, ErrorCode.PAYLOAD_TOO_LARGE, ErrorCode.INTERNAL_ERROR}  # not theirs
    with i18n.context(), i18n.use_locale("en"):
        fallback = texts.error_text("no such code")
        generic = [code for code in ErrorCode if code not in internal and texts.error_text(code) == fallback]
    assert not generic, f"these refusals would read 'something went wrong on our side': {generic}"
