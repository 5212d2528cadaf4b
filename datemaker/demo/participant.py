"""One simulated participant: a Telegram user who talks to the bot through the Bot API emulator's user API,
exactly as a person taps and types, and joins their calls in the Meet emulator.

:class:`Chat` follows the person's chat (a long poll of the emulator), :class:`Phone` is what they do with
it (type, tap a button, send a photo), :class:`Participant` is the person: the profile dialog, /date,
registering, then reacting to whatever datemaker sends (confirm, join the call, rate, read the matches).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from chathub_bot.emulator import EmulatorClient, EmulatorError
from datemaker.demo import texts
from datemaker.demo.facts import Invite, PersonFacts, Rating
from datemaker.demo.options import EventTimeline
from datemaker.demo.people import Person
from datemaker.demo.texts import Kind

logger = logging.getLogger(__name__)

Message = dict[str, Any]
POLL_SECONDS = 5.0
ANSWER_TIMEOUT = 30.0
"""How long a person waits for the bot to answer before giving up."""


@dataclass(frozen=True)
class Sighting:
    """A bot message (one version of it) and when the person saw it."""

    message: Message
    seen_at: float

    @property
    def message_id(self) -> int:
        return int(self.message["message_id"])

    @property
    def version(self) -> int:
        return int(self.message["version"])


class _Signal:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._event.wait()


class Chat:
    """The person's chat with the bot as their phone shows it: every bot message and edit, as it arrives."""

    def __init__(self, client: EmulatorClient, user_id: int) -> None:
        self.client = client
        self.user_id = user_id
        self.sightings: list[Sighting] = []
        self._version = 0
        self._changed = _Signal()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name=f"chat-{self.user_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self) -> None:
        path = f"/_emu/chats/{self.user_id}/messages"
        while True:
            try:
                answer = await self.client.request(
                    "GET", path, params={"after": self._version, "wait": POLL_SECONDS, "from": "bot"}
                )
            except (aiohttp.ClientError, OSError, ValueError, EmulatorError) as exc:
                logger.debug("chat %d: %r", self.user_id, exc)
                await asyncio.sleep(0.2)
                continue
            now = time.time()
            for message in answer["messages"]:
                if not message.get("deleted"):
                    self.sightings.append(Sighting(message, now))
            self._version = max(self._version, int(answer["version"]))
            self._changed.fire()

    async def wait(self, predicate: Callable[[Message], bool], after: int, timeout: float) -> Sighting:
        """The first bot message changed after emulator version ``after`` that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        checked = 0
        while True:
            for sighting in self.sightings[checked:]:
                if sighting.version > after and predicate(sighting.message):
                    return sighting
            checked = len(self.sightings)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            await self._changed.wait(remaining)

    async def next(self, index: int) -> Sighting:
        """The sighting at ``index``, once there is one."""
        while len(self.sightings) <= index:
            await self._changed.wait(60.0)
        return self.sightings[index]


class Phone:
    """What a person does in Telegram: type, tap an inline button, send a photo. Each action returns the
    emulator's version right after it, so the bot's answer is whatever changes after that."""

    def __init__(self, client: EmulatorClient, person: Person) -> None:
        self.client = client
        self.person = person
        self._base = f"/_emu/users/{person.user_id}"

    async def install(self) -> None:
        """The person's Telegram account: name, username, app language."""
        await self.client.request("POST", self._base, json=self.person.telegram_profile)

    async def type(self, text: str) -> int:
        return int((await self.client.request("POST", f"{self._base}/text", json={"text": text}))["version"])

    async def send_photo(self) -> int:
        return int((await self.client.request("POST", f"{self._base}/photo", json={}))["version"])

    async def tap(self, message: Message, data: str) -> tuple[str, int]:
        """Tap the button that sends ``data``, by its label as the person sees it; (query id, version)."""
        label = texts.button_label(message, data)
        if label is None:
            raise LookupError(f"no button {data!r} in message {message['message_id']}")
        answer = await self.client.request(
            "POST", f"{self._base}/press", json={"message_id": message["message_id"], "text": label}
        )
        return answer["callback_query_id"], int(answer["version"])

    async def popup(self, query_id: str, timeout: float = ANSWER_TIMEOUT) -> dict[str, Any]:
        """The bot's answer to a tap (the toast or alert); waits until the bot answered."""
        deadline = time.monotonic() + timeout
        while True:
            answer = await self.client.request("GET", f"/_emu/callbacks/{query_id}")
            if answer["answered"] or time.monotonic() > deadline:
                return answer
            await asyncio.sleep(0.05)


class GaveUp(Exception):
    """The bot did not answer as expected; the person stops here."""


class Participant:
    """One person at the event, from ``/start`` to their matches."""

    def __init__(
        self,
        person: Person,
        client: EmulatorClient,
        session: aiohttp.ClientSession,
        meet_control: str,
        event_id: int,
        timeline: EventTimeline,
        *,
        think: tuple[float, float],
        seed: int,
        usernames: Mapping[str, int],
        latencies: list[tuple[str, float]],
    ) -> None:
        self.person = person
        self.client = client
        self.session = session
        self.meet_control = meet_control.rstrip("/")
        self.event_id = event_id
        self.timeline = timeline
        self.think_range = think
        self.seed = seed
        self.usernames = usernames
        self.latencies = latencies
        self.facts = PersonFacts(person.user_id, person.name, person.gender, person.language, confirms=person.confirms)
        self.chat = Chat(client, person.user_id)
        self.phone = Phone(client, person)
        self.done = asyncio.Event()
        self._rng = random.Random(f"{seed}:{person.user_id}")
        self._tasks: set[asyncio.Task[None]] = set()

    # --- the person's evening -----------------------------------------------------------------

    async def run(self) -> None:
        self.chat.start()
        listener = asyncio.create_task(self._listen(), name=f"listen-{self.person.user_id}")
        try:
            await self.phone.install()
            await self._sign_up()
            await self.done.wait()
        except GaveUp as exc:
            self.facts.problems.append(str(exc))
            self.done.set()
        except (aiohttp.ClientError, OSError, EmulatorError, LookupError) as exc:
            self.facts.problems.append(f"stopped by an error: {exc!r}")
            self.done.set()
        finally:
            listener.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(listener, *self._tasks, return_exceptions=True)
            await self.chat.stop()

    async def _sign_up(self) -> None:
        """/start and the profile dialog, then /date and the event's button."""
        p = self.person
        await self._think()
        await self._say("/start", "/start", lambda m: True)
        await self._think()
        gender_question = await self._say(p.name, "name", lambda m: texts.has_button(m, "p:g:"))
        await self._think()
        await self._tap(gender_question, f"p:g:{p.gender}", "gender", lambda m: True)
        await self._think()
        await self._say(p.birthday_text, "birthday", lambda m: True)
        await self._think()
        bio_question = await self._say(p.city, "city", lambda m: texts.has_button(m, "p:s:"))
        await self._think()
        asks_photo = lambda m: texts.has_button(m, "p:s:")  # noqa: E731
        if p.bio:
            photo_question = await self._say(p.bio, "bio", asks_photo)
        else:
            photo_question = await self._tap(bio_question, "p:s:", "bio", asks_photo)
        await self._think()
        saved = lambda m: texts.classify(m) == Kind.PROFILE_SAVED  # noqa: E731
        if p.sends_photo:
            await self._act("photo", self.phone.send_photo(), saved)
        else:
            await self._tap(photo_question, "p:s:", "photo", saved)
        self.facts.profile_saved = True
        await self._think()
        register = f"e:r:{self.event_id}"
        menu = await self._say("/date", "/date", lambda m: texts.has_button(m, register))
        await self._think()
        answer = await self._tap(menu, register, "register", lambda m: m["message_id"] == menu["message_id"])
        if not texts.has_button(answer, f"e:o:{self.event_id}"):
            raise GaveUp(f"registration refused: {texts.content(answer)[:120]!r}")
        self.facts.registered = True

    async def _listen(self) -> None:
        """React to what datemaker sends, each message once, in the order it arrives."""
        seen: set[int] = set()
        index = 0
        while True:
            sighting = await self.chat.next(index)
            index += 1
            if sighting.message_id in seen:
                continue
            seen.add(sighting.message_id)
            self._react(sighting)

    def _react(self, sighting: Sighting) -> None:
        message, facts = sighting.message, self.facts
        kind = texts.classify(message)
        if kind == Kind.CONFIRM_REQUEST:
            facts.asked_to_confirm = True
            if self.person.confirms:
                self._spawn(self._confirm(message))
        elif kind == Kind.INVITE:
            round_no, url = texts.invite_round(message), texts.meet_link(message)
            if round_no is None or url is None:
                facts.problems.append(f"an invitation without round or link: {texts.content(message)[:80]!r}")
                return
            facts.invites.append(Invite(round_no, url, sighting.seen_at))
            self._spawn(self._join(round_no, url))
        elif kind == Kind.RATING_REQUEST:
            self._spawn(self._rate(message))
        elif kind == Kind.TAKING_PART:
            facts.taking_part = True
        elif kind == Kind.NOT_TAKING_PART:
            facts.not_taking_part = True
            self.done.set()
        elif kind == Kind.SIT_OUT:
            facts.sit_outs.append(texts.first_number(texts.content(message)) or 0)
        elif kind == Kind.FINAL:
            facts.final = True
            self._maybe_done()
        elif kind in (Kind.MATCHES, Kind.NO_MATCHES):
            facts.matches = texts.match_contacts(message, self.usernames) if kind == Kind.MATCHES else ()
            self._maybe_done()

    def _maybe_done(self) -> None:
        if self.facts.final and self.facts.matches is not None:
            self.done.set()

    def _spawn(self, work: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await work
            except GaveUp as exc:
                self.facts.problems.append(str(exc))
            except (aiohttp.ClientError, OSError, EmulatorError, LookupError) as exc:
                self.facts.problems.append(f"stopped by an error: {exc!r}")

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _confirm(self, request: Message) -> None:
        button = texts.confirm_button(request)
        assert button is not None
        await self._think()
        confirmed = lambda m: m["message_id"] == request["message_id"]  # noqa: E731
        answer = await self._tap(request, button[1], "confirm", confirmed)
        if texts.classify(answer) != Kind.CONFIRMED:
            raise GaveUp(f"confirmation refused: {texts.content(answer)[:120]!r}")
        self.facts.confirmed = True

    async def _join(self, round_no: int, url: str) -> None:
        """Open the link when the round starts (the invitation comes a little earlier)."""
        starts = self.timeline.round_start(round_no).timestamp()
        await asyncio.sleep(max(0.0, starts - time.time()) + self._rng.uniform(0.0, 0.3))
        body = {"meeting": url, "display_name": self.person.name}
        async with self.session.post(f"{self.meet_control}/join", json=body) as response:
            if response.status != 200:
                raise GaveUp(f"could not join the round {round_no} call: {response.status} {await response.text()}")
        self.facts.joined_rounds.append(round_no)

    async def _rate(self, request: Message) -> None:
        found = texts.rating_buttons(request)
        assert found is not None
        _, partner_id, verdicts = found
        verdict = self.person.verdict(partner_id, not self.facts.ratings, self.seed)
        await self._think()
        started = time.time()
        query_id, version = await self.phone.tap(request, verdicts[verdict])
        popup = await self.phone.popup(query_id)
        recorded = popup["answered"] and not popup["show_alert"]
        self.facts.ratings.append(Rating(partner_id, verdict, recorded, time.time()))
        if not recorded:
            raise GaveUp(f"rating refused: {popup.get('text')!r}")
        with contextlib.suppress(TimeoutError):
            edited = await self.chat.wait(lambda m: m["message_id"] == request["message_id"], version, 10.0)
            self.latencies.append(("rate", edited.seen_at - started))

    # --- acting and waiting for the answer ----------------------------------------------------

    async def _think(self) -> None:
        await asyncio.sleep(self._rng.uniform(*self.think_range))

    async def _act(self, what: str, action: Awaitable[int], answered: Callable[[Message], bool]) -> Message:
        started = time.time()
        version = await action
        try:
            sighting = await self.chat.wait(answered, version, ANSWER_TIMEOUT)
        except TimeoutError:
            last = self.chat.sightings[-1].message if self.chat.sightings else {}
            raise GaveUp(
                f"no answer to {what} in {ANSWER_TIMEOUT:.0f} s (last bot message: {texts.content(last)[:80]!r})"
            ) from None
        self.latencies.append((what, sighting.seen_at - started))
        return sighting.message

    async def _say(self, text: str, what: str, answered: Callable[[Message], bool]) -> Message:
        return await self._act(what, self.phone.type(text), answered)

    async def _tap(self, message: Message, data: str, what: str, answered: Callable[[Message], bool]) -> Message:
        async def tap() -> int:
            return (await self.phone.tap(message, data))[1]

        return await self._act(what, tap(), answered)
