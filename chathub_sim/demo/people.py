"""Who takes part in the demo: simulated Telegram users with a profile and a way of behaving (pure)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date

from chathub_sim.demo.options import DemoOptions

USER_ID_BASE = 7_000_001
"""Telegram ids of the simulated people: ``USER_ID_BASE + i``."""

_WOMEN = {
    "ru": ["Анна", "Мария", "Екатерина", "Ольга", "Дарья", "Алиса", "Вера", "Ксения", "Полина", "Софья", "Юлия"],
    "en": ["Emma", "Olivia", "Sophie", "Grace", "Chloe", "Lucy", "Alice", "Hannah", "Isla", "Mia", "Ruby"],
}
_MEN = {
    "ru": ["Иван", "Дмитрий", "Алексей", "Михаил", "Сергей", "Артём", "Никита", "Павел", "Егор", "Илья", "Кирилл"],
    "en": ["James", "Oliver", "Henry", "Jack", "Leo", "Oscar", "Noah", "Ethan", "Lucas", "Adam", "Harry"],
}
_CITIES = {"ru": ["Москва", "Санкт-Петербург"], "en": ["Moscow", "Saint Petersburg"]}
_BIOS = {
    "ru": ["Люблю горы и хороший кофе.", "Играю на гитаре, читаю фантастику.", "Бегаю по утрам, пеку хлеб."],
    "en": ["Hiking, coffee and bad puns.", "I play the guitar and read sci-fi.", "Morning runs and home-made bread."],
}


@dataclass(frozen=True)
class Guest:
    """A simulated guest of the event: what they tell the bot and how they behave."""

    user_id: int
    name: str
    """Unique among the participants (names repeat with a number)."""
    gender: str
    birthday: date
    city: str
    language: str
    """Telegram's ``language_code`` of their app (the bot answers in it)."""
    username: str | None
    bio: str | None
    sends_photo: bool
    confirms: bool
    """False: registers, then never answers the confirmation request."""
    reports_first_partner: bool
    like_rate: float
    """How likely they like a partner."""
    uses_mini_app: bool = False
    """Registers, confirms, reads tonight's date and the matches in the Mini App (the profile in the chat)."""

    @property
    def telegram_profile(self) -> dict[str, str]:
        profile = {"first_name": self.name, "language_code": self.language}
        if self.username:
            profile["username"] = self.username
        return profile

    @property
    def birthday_text(self) -> str:
        """As people type it in the profile dialog: DD.MM.YYYY."""
        return self.birthday.strftime("%d.%m.%Y")

    def verdict(self, partner_id: int, first_rating: bool, seed: int) -> str:
        """like, dislike or report: decided by the pair (so reruns decide alike), whatever the order of dates."""
        if self.reports_first_partner and first_rating:
            return "report"
        chance = random.Random(f"{seed}:{self.user_id}:{partner_id}").random()
        return "like" if chance < self.like_rate else "dislike"


def make_people(options: DemoOptions) -> list[Guest]:
    """``options.participants`` people, ``options.women`` of them women, languages mixed ru/en; a few never
    confirm (some women, mostly men), one man reports his first partner, every third uses the Mini App."""
    rng = random.Random(options.seed)
    genders = ["F"] * options.women + ["M"] * options.men
    silent_women = min(options.silent // 3, max(0, options.women - 1))
    silent_men = min(options.silent - silent_women, max(0, options.men - 1))
    silent_women = min(options.silent - silent_men, options.women)
    silent = set(rng.sample(range(options.women), silent_women))
    silent |= {options.women + i for i in rng.sample(range(options.men), silent_men)}
    confirming_men = [i for i in range(options.women, options.participants) if i not in silent]
    reporter = confirming_men[0] if confirming_men else None
    used: dict[str, int] = {}
    people = []
    for i, gender in enumerate(genders):
        language = "ru" if i % 2 == 0 else "en"
        pool = (_WOMEN if gender == "F" else _MEN)[language]
        base = pool[(i // 2) % len(pool)]
        used[base] = used.get(base, 0) + 1
        name = base if used[base] == 1 else f"{base} {used[base]}"
        user_id = USER_ID_BASE + i
        people.append(
            Guest(
                user_id=user_id,
                name=name,
                gender=gender,
                birthday=date(rng.randint(1986, 2000), rng.randint(1, 12), rng.randint(1, 28)),
                city=rng.choice(_CITIES[language]),
                language=language,
                username=None if i % 5 == 4 else f"demo_{user_id}",
                bio=rng.choice(_BIOS[language]) if i % 3 != 0 else None,
                sends_photo=i % 4 == 1,
                confirms=i not in silent,
                reports_first_partner=i == reporter,
                like_rate=0.65,
                uses_mini_app=i % 3 == 2,
            )
        )
    return people
