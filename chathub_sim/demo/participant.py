"""One simulated participant: a Telegram user who talks to the bot through the Bot API emulator's user API,
exactly as a person taps and types, and joins their calls in the Meet emulator.

:class:`Chat` follows the person's chat (a long poll of the emulator), :class:`Phone` is what they do with
it (type, tap a button, send a photo), :class:`SimulatedParticipant` is the person: the profile dialog, /date,
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

from chathub_bot.callbacks import EventAction, EventCb, ProfileAction, ProfileCb
from chathub_sim.demo import texts
from chathub_sim.demo.facts import Invite, PersonFacts, Rating
from chathub_sim.demo.options import EventTimeline
from chathub_sim.demo.people import Guest
from chathub_sim.demo.texts import Kind
from chathub_sim.signals import Signal
from chathub_sim.telegram import EmulatorClient, EmulatorError

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


class Chat:
    """The person's chat with the bot as their phone shows it: every bot message and edit, as it arrives."""

    def __init__(self, client: EmulatorClient, user_id: int) -> None:
        self.client = client
        self.user_id = user_id
        self.sightings: list[Sighting] = []
        self._version = 0
        self._changed = Signal()
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

    def __init__(self, client: EmulatorClient, guest: Guest) -> None:
        self.client = client
        self.guest = guest
        self._base = f"/_emu/users/{guest.user_id}"

    async def install(self) -> None:
        """The person's Telegram account: name, username, app language."""
        await self.client.request("POST", self._base, json=self.guest.telegram_profile)

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


class MiniApp:
    """The bot's Mini App on the person's phone: opened from the bot's menu button as Telegram opens it (signed
    init data in the URL fragment), then its API with ``Authorization: tma <initData>``."""

    def __init__(self, client: EmulatorClient, session: aiohttp.ClientSession, user_id: int) -> None:
        self.client = client
        self.session = session
        self.user_id = user_id
        self.base = ""
        self.init_data = ""

    async def open(self) -> None:
        """Tap the menu button: the page loads (the API is called from it afterwards)."""
        for attempt in range(20):  # the bot sets its menu button once it polls Telegram
            try:
                opened = await self.client.request("POST", f"/_emu/users/{self.user_id}/webapp", json={})
                break
            except EmulatorError:
                if attempt == 19:
                    raise
                await asyncio.sleep(0.5)
        page = opened["url"].split("#", 1)[0]
        self.base, self.init_data = page.split("/app/", 1)[0], opened["init_data"]
        async with self.session.get(page) as response:
            if response.status != 200 or "tgWebAppData" not in await self._script(await response.text()):
                raise GaveUp(f"the Mini App did not load: {response.status}")

    async def _script(self, page: str) -> str:
        source = page.split('<script src="', 1)[-1].split('"', 1)[0]
        async with self.session.get(f"{self.base}{source}") as response:
            return await response.text()

    async def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """An API call's ``data``; a refusal stops the person (:class:`GaveUp`)."""
        headers = {"Authorization": f"tma {self.init_data}"}
        async with self.session.request(method, f"{self.base}/app/api/{path}", json=body, headers=headers) as reply:
            payload = await reply.json(content_type=None)
        if not payload.get("ok"):
            raise GaveUp(f"the Mini App refused {method} {path}: {reply.status} {payload.get('error')}")
        return payload["data"]


class SimulatedParticipant:
    """One person at the event, from ``/start`` to their matches."""

    def __init__(
        self,
        guest: Guest,
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
        self.guest = guest
        self.client = client
        self.session = session
        self.meet_control = meet_control.rstrip("/")
        self.event_id = event_id
        self.timeline = timeline
        self.think_range = think
        self.seed = seed
        self.usernames = usernames
        self.latencies = latencies
        self.facts = PersonFacts(guest.user_id, guest.name, guest.gender, guest.language, confirms=guest.confirms)
        self.chat = Chat(client, guest.user_id)
        self.phone = Phone(client, guest)
        self.app = MiniApp(client, session, guest.user_id) if guest.uses_mini_app else None
        self.facts.mini_app = self.app is not None
        self.done = asyncio.Event()
        self._rng = random.Random(f"{seed}:{guest.user_id}")
        self._tasks: set[asyncio.Task[None]] = set()

    # --- the person's evening -----------------------------------------------------------------

    async def run(self) -> None:
        self.chat.start()
        listener = asyncio.create_task(self._listen(), name=f"listen-{self.guest.user_id}")
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
        p = self.guest
        skip = ProfileCb(action=ProfileAction.SKIP).pack()
        asks_gender = lambda m: texts.has_button(m, ProfileCb, action=ProfileAction.GENDER)  # noqa: E731
        can_skip = lambda m: texts.has_button(m, ProfileCb, action=ProfileAction.SKIP)  # noqa: E731
        await self._think()
        await self._say("/start", "/start", lambda m: True)
        await self._think()
        gender_question = await self._say(p.name, "name", asks_gender)
        await self._think()
        gender = ProfileCb(action=ProfileAction.GENDER, value=p.gender).pack()
        await self._tap(gender_question, gender, "gender", lambda m: True)
        await self._think()
        await self._say(p.birthday_text, "birthday", lambda m: True)
        await self._think()
        ages_question = await self._say(p.city, "city", can_skip)
        await self._think()
        bio_question = await self._tap(ages_question, skip, "partner ages", can_skip)
        await self._think()
        if p.bio:
            photo_question = await self._say(p.bio, "bio", can_skip)
        else:
            photo_question = await self._tap(bio_question, skip, "bio", can_skip)
        await self._think()
        saved = lambda m: texts.classify(m) == Kind.PROFILE_SAVED  # noqa: E731
        if p.sends_photo:
            await self._act("photo", self.phone.send_photo(), saved)
        else:
            await self._tap(photo_question, skip, "photo", saved)
        self.facts.profile_saved = True
        await self._think()
        if self.app is not None:
            await self._register_in_the_app(self.app)
            return
        register = EventCb(action=EventAction.REGISTER, event_id=self.event_id)
        lists_event = lambda m: texts.has_button(m, EventCb, action=register.action, event_id=register.event_id)  # noqa: E731
        menu = await self._say("/date", "/date", lists_event)
        await self._think()
        answer = await self._tap(menu, register.pack(), "register", lambda m: m["message_id"] == menu["message_id"])
        if not texts.has_button(answer, EventCb, action=EventAction.CANCEL, event_id=self.event_id):  # its card
            raise GaveUp(f"registration refused: {texts.content(answer)[:120]!r}")
        self.facts.registered = True

    async def _register_in_the_app(self, app: MiniApp) -> None:
        started = time.time()
        await app.open()
        events = (await app.call("GET", "events"))["events"]
        if not any(e["event_id"] == self.event_id for e in events):
            raise GaveUp(f"the Mini App does not list event {self.event_id}")
        await self._think()
        placed = await app.call("POST", f"events/{self.event_id}/registration")
        if placed["status"] not in ("registered", "waitlisted"):
            raise GaveUp(f"the Mini App registration said {placed['status']}")
        self.latencies.append(("register (Mini App)", time.time() - started))
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
            if self.guest.confirms:
                self._spawn(self._confirm(message))
        elif kind == Kind.INVITE:
            round_no, url = texts.invite_round(message), texts.meet_link(message)
            if round_no is None or url is None:
                facts.problems.append(f"an invitation without round or link: {texts.content(message)[:80]!r}")
                return
            facts.invites.append(Invite(round_no, url, sighting.seen_at))
            self._spawn(self._join(round_no, url) if self.app is None else self._tonight_then_join(self.app, round_no))
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
            if self.app is not None:
                self._spawn(self._matches_in_the_app(self.app))
            self._maybe_done()

    def _maybe_done(self) -> None:
        if (
            self.facts.final
            and self.facts.matches is not None
            and (self.app is None or self.facts.app_matches is not None)
        ):
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
        if self.app is not None:  # the request comes in the chat; the answer goes through the Mini App
            answer = await self.app.call("POST", f"events/{self.event_id}/confirmation", {"attending": True})
            if answer["status"] != "confirmed":
                raise GaveUp(f"the Mini App confirmation said {answer['status']}")
            self.facts.confirmed = True
            return
        confirmed = lambda m: m["message_id"] == request["message_id"]  # noqa: E731
        answer = await self._tap(request, button[1], "confirm", confirmed)
        if texts.classify(answer) != Kind.CONFIRMED:
            raise GaveUp(f"confirmation refused: {texts.content(answer)[:120]!r}")
        self.facts.confirmed = True

    async def _join(self, round_no: int, url: str) -> None:
        """Open the link when the round starts (the invitation comes a little earlier)."""
        starts = self.timeline.round_start(round_no).timestamp()
        await asyncio.sleep(max(0.0, starts - time.time()) + self._rng.uniform(0.0, 0.3))
        body = {"meeting": url, "display_name": self.guest.name}
        async with self.session.post(f"{self.meet_control}/join", json=body) as response:
            if response.status != 200:
                raise GaveUp(f"could not join the round {round_no} call: {response.status} {await response.text()}")
        self.facts.joined_rounds.append(round_no)

    async def _tonight_then_join(self, app: MiniApp, round_no: int) -> None:
        """The invitation's notification opens the Mini App: tonight's date there, and its link to join."""
        date = (await app.call("GET", "tonight"))["date"] or {}
        url = date.get("url")
        self.facts.app_dates.append((int(date.get("round") or 0), url))
        if url is None:
            raise GaveUp(f"the Mini App shows no link for round {round_no}")
        await self._join(round_no, url)

    async def _matches_in_the_app(self, app: MiniApp) -> None:
        matches = (await app.call("GET", "matches"))["matches"]
        self.facts.app_matches = tuple(m["user_id"] for m in matches if m["event_id"] == self.event_id)
        self._maybe_done()

    async def _rate(self, request: Message) -> None:
        found = texts.rating_buttons(request)
        assert found is not None
        _, partner_id, verdicts = found
        verdict = self.guest.verdict(partner_id, not self.facts.ratings, self.seed)
        await self._think()
        started = time.time()
        tapped = verdicts[verdict]
        if verdict == "report":  # the bot asks what happened first, in the same message's buttons
            query_id, version = await self.phone.tap(request, tapped)
            await self.phone.popup(query_id)
            asked = await self.chat.wait(
                lambda m: m["message_id"] == request["message_id"] and bool(texts.report_buttons(m)), version, 10.0
            )
            request, tapped = asked.message, texts.report_buttons(asked.message)["rude"]
        query_id, version = await self.phone.tap(request, tapped)
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
