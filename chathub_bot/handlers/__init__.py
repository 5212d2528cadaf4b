"""One router per feature, in the order the dispatcher tries them (commands before dialog answers)."""

from aiogram import Router

from chathub_bot.handlers import dating, event, fallback, profile, start


def routers() -> list[Router]:
    return [module.router.router() for module in (start, dating, event, profile, fallback)]
