"""The Mini App's words, from the bot's gettext catalogs (one translation workflow, one test for missing
translations): the page gets them, for both languages, in a JSON block of its HTML.

Plural forms go to the page by CLDR category (``one``, ``few``, ``many``, ``other``), which the page picks with
``Intl.PluralRules``; gettext's Russian and English rules agree with CLDR's on whole numbers.
"""

from __future__ import annotations

from typing import Any

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from chathub_bot import texts
from chathub_bot.i18n import LOCALES
from contracts.errors import ErrorCode

SAMPLES = {"one": 1, "few": 2, "many": 5, "other": 5}
"""A number of each CLDR plural category (Russian uses all four names for whole numbers; English one and other)."""


def _words() -> dict[str, str]:
    return {
        "tab_tonight": _("Tonight"),
        "tab_events": _("Events"),
        "tab_matches": _("Matches"),
        "tab_profile": _("Profile"),
        "loading": _("Loading…"),
        "retry": _("Try again"),
        "busy": texts.busy(),
        "too_fast": _("You are going too fast. Please wait a few seconds and try again."),
        "outside_telegram": _("Open this page from the bot's menu in Telegram: it needs to know who you are."),
        "no_profile": _("You have no profile yet. Send /start to the bot to create one, then come back here."),
        "events_title": _("Upcoming events"),
        "no_events": _("There are no upcoming events yet. Please check again later."),
        "waitlist_only": _("only the waiting list is open"),
        "register": _("Register"),
        "join_waitlist": _("Join the waiting list"),
        "cancel_registration": _("❌ Cancel my registration"),
        "cancel_confirm": _("Yes, cancel it"),
        "keep": _("No, keep it"),
        "registered": _("✅ you are registered"),
        "confirmed": _("✅ confirmed"),
        "waitlisted": _("⏳ on the waiting list"),
        "registered_now": _("You are registered! We will ask you to confirm a day before the event."),
        "waitlisted_now": _("The event is full: you are on its waiting list."),
        "cancelled_now": _("Your registration is cancelled."),
        "confirm_question": _("Will you come? Please confirm your seat."),
        "confirm_yes": _("✅ I will be there"),
        "confirm_no": _("❌ I can't come"),
        "confirmed_now": _("✅ Thank you, you are confirmed! See you at the event."),
        "declined_now": _("Got it, you won't come this time. Your spot goes to someone else."),
        "tonight_title": _("Your date"),
        "round_of": _("Round {round} of {rounds}"),
        "join_call": _("📹 Join the call"),
        "link_soon": _("The call link comes here shortly before the round starts."),
        "starts_in": _("Starts in"),
        "ends_in": _("Ends in"),
        "round_over": _("This round is over. Take a short break."),
        "next_date": _("Next: {name}, round {round}, in {time}"),
        "last_date": _("This is your last date tonight."),
        "no_date": _("You have no date right now. When an event you take part in starts, your partner shows here."),
        "absent": _("🙈 My partner isn't here"),
        "absent_joined": _("Your partner is in the call: please join it too."),
        "absent_rescue": _("🔁 Someone new for the rest of the round: {name}."),
        "absent_same_call": _("Stay in your call: {name} is joining you there."),
        "absent_new_call": _("Your call has changed: join the new one with the button."),
        "absent_link_soon": _("The link of your call comes here in a moment."),
        "absent_no_one_free": _("😔 Your partner did not come, and nobody else is free in this round. We are sorry!"),
        "absent_next": _("Your next date is in round {round}, at {time}."),
        "absent_last": _("This was your last date tonight."),
        "absent_not_running": _("This round is not running now."),
        "absent_no_date": _("You have no date in this round."),
        "rate_title": _("Rate your dates"),
        "rate_question": _("How was your date with {name} (round {round})? Your answer stays private."),
        "like": _("👍 Like"),
        "dislike": _("👎 Dislike"),
        "report": _("🚩 Report"),
        "report_why": _("What happened? Choose one: the organizers read it."),
        **{f"reason_{reason}": label for reason, label in texts.report_reasons().items()},
        "back": _("« Back"),
        "rated": _("Thank you! Your answer is saved."),
        "city": _("City: {city}"),
        "about": _("About: {bio}"),
        "matches_title": _("Your matches"),
        "no_matches": _("No mutual likes yet. After an event, the people who liked you back show here."),
        "write": _("Write to {name}"),
        "profile_title": _("Your profile"),
        "name": _("Name"),
        "gender": _("Gender"),
        "man": _("Man"),
        "woman": _("Woman"),
        "birthday": _("Birthday"),
        "city_label": _("City"),
        "bio": _("About me"),
        "save": _("Save"),
        "edit_profile": _("✏️ Edit my profile"),
        "saved": _("Your profile is saved!"),
        "check_fields": _("Please check: {fields}"),
        "delete_data": _("Delete my data"),
        "delete_question": _(
            "Delete your data? Your profile, photo and username are erased, your registrations for upcoming events "
            "are cancelled, and your matches will no longer see your contact. Only anonymous counts of past events "
            "remain. This cannot be undone."
        ),
        "delete_yes": _("🗑 Yes, delete everything"),
        "deleted": _("Your data is deleted. If you come back one day, /start makes a new profile."),
    }


def _errors() -> dict[str, str]:
    return {code.value: texts.error_text(code) for code in ErrorCode}


def _plurals(count: int) -> dict[str, str]:
    return {
        "spots": texts.spots(count),
        "dates": _("{n} date tonight", "{n} dates tonight", n=count).format(n=count),
    }


def page_texts(i18n: I18n) -> dict[str, dict[str, Any]]:
    """Every word of the page, by locale: ``{"ru": {"words": {...}, "errors": {...}, "plurals": {...}}, ...}``."""
    result: dict[str, dict[str, Any]] = {}
    with i18n.context():
        for locale in LOCALES:
            with i18n.use_locale(locale):
                plurals: dict[str, dict[str, str]] = {}
                for category, sample in SAMPLES.items():
                    for key, text in _plurals(sample).items():
                        plurals.setdefault(key, {})[category] = text.replace(str(sample), "{n}", 1)
                result[locale] = {"words": _words(), "errors": _errors(), "plurals": plurals}
    return result
