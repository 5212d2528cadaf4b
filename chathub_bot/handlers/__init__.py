"""One router per feature, in the order the dispatcher tries them (commands before dialog answers)."""

from aiogram import Router

from chathub_bot.handlers import dating, event, fallback, organizer, privacy, profile, start, tonight


def routers() -> list[Router]:
    features = [module.router for module in (organizer, start, privacy, dating, tonight, event, profile)]
    return [handlers.router() for handlers in (*features, organizer.dialog, fallback.router)]
