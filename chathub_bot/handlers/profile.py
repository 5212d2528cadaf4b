"""The profile: a dialog for new users (name, gender, birthday, city, optional bio and photo), /profile to see
and edit it. Every answer is checked, with a helpful re-ask; the profile is stored by ``upsert_profile``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiogram import F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from chathub_bot import texts, validation
from chathub_bot.callbacks import ProfileAction, ProfileCb
from chathub_bot.gateway import DatemakerError, DatemakerGateway, DatemakerUnavailable, profile_of
from chathub_bot.handlers.common import Handlers, actor_of, show, toast
from chathub_bot.validation import InvalidAnswer, Problem
from contracts import commands as c
from contracts.errors import ErrorCode

logger = logging.getLogger(__name__)
router = Handlers("profile")

Respond = Callable[[str, InlineKeyboardMarkup | None], Awaitable[Any]]


class ProfileForm(StatesGroup):
    name = State()
    gender = State()
    birthday = State()
    city = State()
    partner_ages = State()
    bio = State()
    photo = State()


FIELDS = ("name", "gender", "birthday", "city", "partner_ages", "bio", "photo")
SKIPPABLE = ("partner_ages", "bio", "photo")
STATES = {field: getattr(ProfileForm, field) for field in FIELDS}


def _keyboard(*buttons: tuple[str, ProfileCb], columns: int = 2) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for text, data in buttons:
        builder.button(text=text, callback_data=data)
    builder.adjust(columns)
    return builder.as_markup()


def question(field: str) -> tuple[str, InlineKeyboardMarkup | None]:
    """The question asking for ``field``, with its buttons."""
    skip = (_("Skip"), ProfileCb(action=ProfileAction.SKIP))
    if field == "name":
        return _("What is your name? Your first name is enough."), None
    if field == "gender":
        return _("Who are you?"), _keyboard(
            (_("Man"), ProfileCb(action=ProfileAction.GENDER, value="M")),
            (_("Woman"), ProfileCb(action=ProfileAction.GENDER, value="F")),
        )
    if field == "birthday":
        return _("When is your birthday? Send it as DD.MM.YYYY, for example 17.05.1995."), None
    if field == "city":
        return _("Which city do you live in?"), None
    if field == "partner_ages":
        return _(
            "Which ages would you like to meet? Send a range such as 25-35, or 30+ for no upper limit, or press Skip "
            "to meet any age."
        ), _keyboard(skip)
    if field == "bio":
        return _("Tell a little about yourself (up to 1000 characters), or press Skip."), _keyboard(skip)
    return _("Send a photo for your profile, or press Skip."), _keyboard(skip)


def problem_text(problem: Problem) -> str:
    texts_by_problem = {
        Problem.EMPTY: _("That looks empty."),
        Problem.TOO_LONG: _("That is too long."),
        Problem.COMMAND: _("That looks like a command, not an answer."),
        Problem.NOT_A_DATE: _("I could not read that date."),
        Problem.FUTURE: _("That date is in the future."),
        Problem.TOO_YOUNG: _("Sorry, our events are for adults only (18+)."),
        Problem.TOO_OLD: _("Please check the year."),
        Problem.UNKNOWN_GENDER: _("Please choose one of the buttons."),
        Problem.NOT_AN_AGE_RANGE: _("I could not read that range: two ages from 18 to 120, the smaller first."),
    }
    return texts_by_problem[problem]


def _reask(field: str, problem_line: str) -> tuple[str, InlineKeyboardMarkup | None]:
    text, markup = question(field)
    return f"{problem_line}\n{text}", markup


def profile_keyboard() -> InlineKeyboardMarkup:
    edit = ProfileAction.EDIT
    return _keyboard(
        (_("Name"), ProfileCb(action=edit, value="name")),
        (_("Gender"), ProfileCb(action=edit, value="gender")),
        (_("Birthday"), ProfileCb(action=edit, value="birthday")),
        (_("City"), ProfileCb(action=edit, value="city")),
        (_("About me"), ProfileCb(action=edit, value="bio")),
        (_("Partner ages"), ProfileCb(action=edit, value="partner_ages")),
        (_("Photo"), ProfileCb(action=edit, value="photo")),
        (_("Fill in again"), ProfileCb(action=ProfileAction.RESTART)),
        columns=3,
    )


def draft_of(profile: c.Profile) -> dict[str, Any]:
    return {
        "name": profile.name,
        "gender": profile.gender,
        "birthday": profile.birthday.isoformat(),
        "city": profile.city,
        "bio": profile.bio,
        "photo_file_id": profile.photo_file_id,
        "partner_ages": [profile.partner_age_min, profile.partner_age_max],
    }


async def begin(state: FSMContext, respond: Respond, intro: str) -> None:
    """Start the dialog from the first question."""
    await state.set_state(ProfileForm.name)
    await state.set_data({"draft": {}, "editing": False})
    text, markup = question("name")
    await respond(f"{intro}\n\n{text}", markup)


def responder(event: Message | CallbackQuery) -> Respond:
    """Answer a message with a new message; a button by editing its message."""
    if isinstance(event, Message):
        return lambda text, markup: event.answer(text, reply_markup=markup)
    return lambda text, markup: show(event, text, markup)


async def send_profile(message: Message, profile: c.Profile) -> None:
    caption = texts.profile_card(profile) + "\n\n" + _("Tap a field to change it.")
    if profile.photo_file_id:
        await message.answer_photo(profile.photo_file_id, caption=caption, reply_markup=profile_keyboard())
    else:
        await message.answer(caption, reply_markup=profile_keyboard())


@router.message(Command("profile"))
async def on_profile(message: Message, state: FSMContext, gateway: DatemakerGateway) -> None:
    await state.clear()
    try:
        profile = await profile_of(gateway, actor_of(message))
    except (DatemakerUnavailable, DatemakerError):
        await message.answer(texts.busy())
        return
    if profile is None:
        await begin(state, responder(message), _("You have no profile yet. Let's create one."))
    else:
        await send_profile(message, profile)


@router.callback_query(ProfileCb.filter(F.action == ProfileAction.EDIT))
async def on_edit(
    callback: CallbackQuery, callback_data: ProfileCb, state: FSMContext, gateway: DatemakerGateway
) -> None:
    if callback_data.value not in FIELDS:
        await toast(callback, _("This button is out of date. Send /profile to start again."))
        return
    try:
        profile = await profile_of(gateway, actor_of(callback))
    except (DatemakerUnavailable, DatemakerError):
        await toast(callback, texts.busy(), alert=True)
        return
    await toast(callback)
    respond = _sender(callback)
    if profile is None:
        await begin(state, respond, _("You have no profile yet. Let's create one."))
        return
    await state.set_state(STATES[callback_data.value])
    await state.set_data({"draft": draft_of(profile), "editing": True})
    text, markup = question(callback_data.value)
    await respond(text + "\n" + _("Send /cancel to keep it as it is."), markup)


@router.callback_query(ProfileCb.filter(F.action == ProfileAction.RESTART))
async def on_restart(callback: CallbackQuery, state: FSMContext) -> None:
    await toast(callback)
    await begin(state, _sender(callback), _("Let's fill in your profile again."))


def _sender(callback: CallbackQuery) -> Respond:
    """Answer a button under a profile card with a new message (the card may be a photo)."""

    async def send(text: str, markup: InlineKeyboardMarkup | None) -> None:
        assert callback.bot is not None and callback.from_user is not None
        await callback.bot.send_message(actor_of(callback).chat_id, text, reply_markup=markup)

    return send


async def _accept(
    event: Message | CallbackQuery, field: str, value: Any, state: FSMContext, gateway: DatemakerGateway
) -> None:
    """Store an accepted answer, then ask the next question or save the profile."""
    data = await state.get_data()
    draft = dict(data.get("draft") or {})
    draft["photo_file_id" if field == "photo" else field] = value
    await state.update_data(draft=draft)
    if data.get("editing") or field == FIELDS[-1]:
        await save(event, state, gateway)
        return
    following = FIELDS[FIELDS.index(field) + 1]
    await state.set_state(STATES[following])
    text, markup = question(following)
    await responder(event)(text, markup)


async def save(event: Message | CallbackQuery, state: FSMContext, gateway: DatemakerGateway) -> None:
    """Send the finished draft to datemaker; on success the dialog ends."""
    respond, user = responder(event), event.from_user
    assert user is not None
    draft = (await state.get_data()).get("draft") or {}
    missing = [field for field in ("name", "gender", "birthday", "city") if not draft.get(field)]
    if missing:
        await state.set_state(STATES[missing[0]])
        text, markup = question(missing[0])
        await respond(text, markup)
        return
    ages = draft.get("partner_ages") or [None, None]
    args = c.UpsertProfile(
        name=draft["name"],
        gender=draft["gender"],
        birthday=draft["birthday"],
        city=draft["city"],
        bio=draft.get("bio") or None,
        photo_file_id=draft.get("photo_file_id") or None,
        partner_age_min=ages[0],
        partner_age_max=ages[1],
        username=validation.telegram_username(user.username),
        language=validation.telegram_language(user.language_code),
    )
    try:
        profile = (await gateway.request(args, actor_of(event))).profile
    except DatemakerUnavailable:
        retry = _keyboard((_("Try again"), ProfileCb(action=ProfileAction.SAVE)))
        await respond(texts.busy(), retry)
        return
    except DatemakerError as exc:
        if exc.code == ErrorCode.BAD_REQUEST and "birthday" in exc.message:
            await state.set_state(ProfileForm.birthday)
            text, markup = _reask("birthday", texts.error_text(exc.code))
            await respond(text, markup)
            return
        await state.clear()
        await respond(texts.error_text(exc.code), None)
        return
    await state.clear()
    await respond(
        _("Your profile is saved!") + "\n\n" + texts.profile_card(profile) + "\n\n" + _("Now pick an event: /date"),
        None,
    )


@router.callback_query(ProfileCb.filter(F.action == ProfileAction.SAVE))
async def on_save_again(callback: CallbackQuery, state: FSMContext, gateway: DatemakerGateway) -> None:
    await toast(callback)
    if await state.get_state() is None:
        await show(callback, _("This dialog has expired. Send /profile to start again."))
        return
    await save(callback, state, gateway)


# --- the answers ------------------------------------------------------------------------------


@router.message(ProfileForm.name, F.text)
async def on_name(message: Message, state: FSMContext, gateway: DatemakerGateway) -> None:
    try:
        name = validation.parse_name(message.text)
    except InvalidAnswer as exc:
        text, markup = _reask("name", problem_text(exc.problem))
        await message.answer(text, reply_markup=markup)
        return
    await _accept(message, "name", name, state, gateway)


@router.callback_query(ProfileForm.gender, ProfileCb.filter(F.action == ProfileAction.GENDER))
async def on_gender_button(
    callback: CallbackQuery, callback_data: ProfileCb, state: FSMContext, gateway: DatemakerGateway
) -> None:
    await toast(callback)
    if callback_data.value not in ("M", "F"):
        text, markup = _reask("gender", problem_text(Problem.UNKNOWN_GENDER))
        await show(callback, text, markup)
        return
    await _accept(callback, "gender", callback_data.value, state, gateway)


async def _typed_answer(
    message: Message, field: str, parse: Callable[[str | None], str], state: FSMContext, gateway: DatemakerGateway
) -> None:
    """A typed answer to the question about ``field``: accepted, or asked again saying what is wrong."""
    try:
        value = parse(message.text)
    except InvalidAnswer as exc:
        text, markup = _reask(field, problem_text(exc.problem))
        await message.answer(text, reply_markup=markup)
        return
    await _accept(message, field, value, state, gateway)


@router.message(ProfileForm.gender, F.text)
async def on_gender_text(message: Message, state: FSMContext, gateway: DatemakerGateway) -> None:
    await _typed_answer(message, "gender", validation.parse_gender, state, gateway)


@router.message(ProfileForm.birthday, F.text)
async def on_birthday(message: Message, state: FSMContext, gateway: DatemakerGateway) -> None:
    def parse(text: str | None) -> str:
        return validation.parse_birthday(text, datetime.now(UTC).date()).isoformat()

    await _typed_answer(message, "birthday", parse, state, gateway)


@router.message(ProfileForm.city, F.text)
async def on_city(message: Message, state: FSMContext, gateway: DatemakerGateway) -> None:
    await _typed_answer(message, "city", validation.parse_city, state, gateway)


@router.message(ProfileForm.partner_ages, F.text)
async def on_partner_ages(message: Message, state: FSMContext, gateway: DatemakerGateway) -> None:
    if (message.text or "").strip().lower() == "/skip":
        await _accept(message, "partner_ages", None, state, gateway)
        return
    try:
        ages = validation.parse_age_range(message.text)
    except InvalidAnswer as exc:
        text, markup = _reask("partner_ages", problem_text(exc.problem))
        await message.answer(text, reply_markup=markup)
        return
    await _accept(message, "partner_ages", list(ages), state, gateway)


@router.message(ProfileForm.bio, F.text)
async def on_bio(message: Message, state: FSMContext, gateway: DatemakerGateway) -> None:
    if (message.text or "").strip().lower() == "/skip":
        await _accept(message, "bio", None, state, gateway)
        return
    try:
        bio = validation.parse_bio(message.text)
    except InvalidAnswer as exc:
        text, markup = _reask("bio", problem_text(exc.problem))
        await message.answer(text, reply_markup=markup)
        return
    await _accept(message, "bio", bio, state, gateway)


@router.message(ProfileForm.photo, F.photo)
async def on_photo(message: Message, state: FSMContext, gateway: DatemakerGateway) -> None:
    assert message.photo
    await _accept(message, "photo", message.photo[-1].file_id, state, gateway)


@router.message(ProfileForm.photo, F.text.lower() == "/skip")
async def on_photo_skip_text(message: Message, state: FSMContext, gateway: DatemakerGateway) -> None:
    await _accept(message, "photo", None, state, gateway)


@router.callback_query(ProfileCb.filter(F.action == ProfileAction.SKIP))
async def on_skip(callback: CallbackQuery, state: FSMContext, gateway: DatemakerGateway) -> None:
    await toast(callback)
    current = await state.get_state()
    field = next((f for f, s in STATES.items() if s.state == current and f in SKIPPABLE), None)
    if field is None:
        await show(callback, _("This question is no longer open. Send /profile to see your profile."))
        return
    await _accept(callback, field, None, state, gateway)


@router.message(ProfileForm.photo)
async def on_not_a_photo(message: Message) -> None:
    text, markup = _reask("photo", _("That is not a photo."))
    await message.answer(text, reply_markup=markup)


@router.message(ProfileForm.gender)
async def on_gender_other(message: Message) -> None:
    text, markup = _reask("gender", problem_text(Problem.UNKNOWN_GENDER))
    await message.answer(text, reply_markup=markup)


@router.message(ProfileForm.name)
@router.message(ProfileForm.birthday)
@router.message(ProfileForm.city)
@router.message(ProfileForm.partner_ages)
@router.message(ProfileForm.bio)
async def on_not_text(message: Message, state: FSMContext) -> None:
    """A sticker, photo or anything else where text is expected."""
    current = await state.get_state()
    field = next((f for f, s in STATES.items() if s.state == current), "name")
    text, markup = _reask(field, _("Please answer with text."))
    await message.answer(text, reply_markup=markup)
