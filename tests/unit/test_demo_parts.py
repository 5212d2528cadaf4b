"""The demo's other pure parts: percentiles, message recognition, the compressed timeline, the people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chathub_bot.callbacks import (
    ConfirmCb,
    EventAction,
    EventCb,
    MenuAction,
    MenuCb,
    ProfileCb,
    RateCb,
    Verdict,
)
from chathub_sim.demo import texts
from chathub_sim.demo.options import DemoOptions, event_timeline, registration_window
from chathub_sim.demo.people import make_people
from chathub_sim.demo.stats import Histogram, histogram_from_metrics, percentile
from chathub_sim.demo.texts import Kind

METRICS = """\
# HELP chathub_command_duration_seconds Time from receiving a command to its reply
# TYPE chathub_command_duration_seconds histogram
chathub_command_duration_seconds_bucket{command="list_events",le="0.01"} 2.0
chathub_command_duration_seconds_bucket{command="list_events",le="0.1"} 8.0
chathub_command_duration_seconds_bucket{command="list_events",le="+Inf"} 10.0
chathub_command_duration_seconds_count{command="list_events"} 10.0
chathub_command_duration_seconds_sum{command="list_events"} 0.9
chathub_command_duration_seconds_bucket{command="rate_partner",le="0.01"} 8.0
chathub_command_duration_seconds_bucket{command="rate_partner",le="0.1"} 10.0
chathub_command_duration_seconds_bucket{command="rate_partner",le="+Inf"} 10.0
chathub_command_duration_seconds_count{command="rate_partner"} 10.0
chathub_command_duration_seconds_sum{command="rate_partner"} 0.1
# HELP other_seconds Another histogram
# TYPE other_seconds histogram
other_seconds_bucket{le="1.0"} 100.0
other_seconds_bucket{le="+Inf"} 100.0
"""


def test_percentile_nearest_rank():
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.99) == 3.0
    samples = [float(i) for i in range(1, 101)]
    assert percentile(samples, 0.5) == 50.0
    assert percentile(samples, 0.99) == 99.0
    assert percentile(list(reversed(samples)), 1.0) == 100.0


def test_histogram_from_metrics_sums_label_sets_of_one_name():
    histogram = histogram_from_metrics(METRICS, "chathub_command_duration_seconds")
    assert histogram.buckets == ((0.01, 10.0), (0.1, 18.0), (float("inf"), 20.0))
    assert histogram.count == 20


def test_histogram_quantile_interpolates_like_prometheus():
    histogram = histogram_from_metrics(METRICS, "chathub_command_duration_seconds")
    assert histogram.quantile(0.5) == pytest.approx(0.01)  # rank 10 is the top of the first bucket
    assert histogram.quantile(0.25) == pytest.approx(0.005)
    assert histogram.quantile(0.7) == pytest.approx(0.01 + 0.09 * 4 / 8)
    assert histogram.quantile(0.99) == pytest.approx(0.1)  # in +Inf: the highest finite bound


def test_histogram_quantile_without_samples():
    assert Histogram(()).quantile(0.5) is None
    assert Histogram(((0.1, 0.0), (float("inf"), 0.0))).quantile(0.5) is None
    assert histogram_from_metrics("", "chathub_command_duration_seconds").quantile(0.5) is None


def bot_message(text: str = "", buttons: list | None = None, source: str | None = None, **fields) -> dict:
    return {"message_id": 7, "text": text, "source": source or text, "buttons": buttons or [], "version": 3, **fields}


def test_buttons_say_what_a_message_is():
    confirm = bot_message("Будет встреча! Вы придёте?", [[{"text": "✅ Приду", "callback_data": "c:12:1"}]])
    assert texts.classify(confirm) == Kind.CONFIRM_REQUEST
    assert texts.confirm_button(confirm) == (12, "c:12:1")
    assert texts.button_label(confirm, "c:12:1") == "✅ Приду"
    rate = bot_message(
        "How was your date?",
        [
            [{"text": "👍 Like", "callback_data": "r:12:7000005:like"}],
            [{"text": "🚩 Report", "callback_data": "r:12:7000005:report"}],
        ],
    )
    assert texts.classify(rate) == Kind.RATING_REQUEST
    assert texts.rating_buttons(rate) == (12, 7000005, {"like": "r:12:7000005:like", "report": "r:12:7000005:report"})
    invite = bot_message(
        "🔔 Раунд 3: ваше свидание начинается!\n\nАнна, 30\nСсылка: https://meet.google.com/abc-defg-hij",
        [[{"text": "📹 Join", "url": "https://meet.google.com/abc-defg-hij"}]],
    )
    assert texts.classify(invite) == Kind.INVITE
    assert (texts.invite_round(invite), texts.meet_link(invite)) == (3, "https://meet.google.com/abc-defg-hij")
    photo_invite = {"message_id": 1, "caption": "🔔 Round 2: go\nhttps://meet.google.com/xyz-abcd-efg", "version": 1}
    assert texts.classify(photo_invite) == Kind.INVITE and texts.invite_round(photo_invite) == 2


def as_the_emulator_shows(outgoing) -> dict:
    """A message the bot renders, as the Bot API emulator's control API shows it (buttons as dicts)."""
    rows = outgoing.markup.model_dump(exclude_none=True)["inline_keyboard"] if outgoing.markup else []
    return bot_message(outgoing.text, rows)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_the_bots_own_buttons_are_recognised(language):
    from chathub_bot import notifications
    from chathub_bot.i18n import build_i18n
    from contracts import notifications as n

    i18n = build_i18n()
    with i18n.context(), i18n.use_locale(language):
        confirm = notifications.confirm_request(
            n.ConfirmRegistrationRequest(
                event_id=12, starts_at="2026-05-01T19:00:00+03:00", timezone="Europe/Moscow", deadline="2026-04-30"
            )
        )
        rate = notifications.rating_request(
            n.SendPartnerRatingRequest(event_id=12, round=1, partner=n.PartnerCard(user_id=7000005, name="Eve"))
        )
    confirm, rate = as_the_emulator_shows(confirm), as_the_emulator_shows(rate)
    assert texts.classify(confirm) == Kind.CONFIRM_REQUEST
    assert texts.confirm_button(confirm) == (12, ConfirmCb(event_id=12, attending=True).pack())
    assert texts.classify(rate) == Kind.RATING_REQUEST
    assert texts.rating_buttons(rate) == (
        12,
        7000005,
        {verdict.value: RateCb(event_id=12, partner_id=7000005, verdict=verdict).pack() for verdict in Verdict},
    )


def test_buttons_of_another_kind_or_another_event_are_not_taken():
    message = bot_message(
        "Something else",
        [
            [{"text": "❌ No", "callback_data": ConfirmCb(event_id=12, attending=False).pack()}],
            [{"text": "Events", "callback_data": "m:ev"}, {"text": "Short", "callback_data": "c:12"}],
            [{"text": "Register", "callback_data": EventCb(action=EventAction.REGISTER, event_id=12).pack()}],
            [{"text": "Forged", "callback_data": "r:12:somebody:like"}, {"text": "Site", "url": "https://example.com"}],
        ],
    )
    assert texts.confirm_button(message) is None  # "I can't come" is no confirmation
    assert texts.rating_buttons(message) is None  # a partner that is no user id
    assert texts.classify(message, table={}) == Kind.OTHER
    assert texts.has_button(message, EventCb, action=EventAction.REGISTER, event_id=12)
    assert not texts.has_button(message, EventCb, action=EventAction.REGISTER, event_id=1)  # not a prefix match
    assert not texts.has_button(message, EventCb, action=EventAction.OPEN)
    assert not texts.has_button(message, ProfileCb)
    assert texts.unpack(ConfirmCb, "c:12") is None and texts.unpack(MenuCb, "m:ev") == MenuCb(action=MenuAction.EVENTS)


@pytest.mark.parametrize("language", ["en", "ru"])
def test_texts_from_the_bots_catalogs_in_both_languages(language):
    from chathub_bot.i18n import build_i18n

    i18n = build_i18n()

    def said(source: str, **values: object) -> dict:
        return bot_message(i18n.gettext(source, locale=language).format(**values))

    assert texts.classify(said(texts.SOURCES[Kind.TAKING_PART][0], when="1 May", rounds=4)) == Kind.TAKING_PART
    assert texts.classify(said(texts.SOURCES[Kind.NOT_TAKING_PART][0])) == Kind.NOT_TAKING_PART
    assert texts.classify(said(texts.SOURCES[Kind.FINAL][0], dates="You had 3 dates.")) == Kind.FINAL
    sit_out = said(texts.SOURCES[Kind.SIT_OUT][0], round=2, next=3, time="19:05")
    assert texts.classify(sit_out) == Kind.SIT_OUT and texts.first_number(texts.content(sit_out)) == 2
    assert texts.classify(said(texts.SOURCES[Kind.BREAK][0], round=1, time="19:05")) == Kind.BREAK
    assert texts.classify(said(texts.SOURCES[Kind.NO_MATCHES][0])) == Kind.NO_MATCHES
    assert texts.classify(said(texts.SOURCES[Kind.PROFILE_SAVED][0])) == Kind.PROFILE_SAVED
    assert texts.classify(said(texts.SOURCES[Kind.CONFIRMED][0])) == Kind.CONFIRMED
    assert texts.classify(bot_message("What is your name?")) == Kind.OTHER


def test_match_contacts_from_links():
    message = bot_message(
        "💘 You liked each other! Write to them:",
        source='💘 You liked each other!\n• <a href="https://t.me/demo_7000002">Bea</a> (@demo_7000002)\n'
        '• <a href="tg://user?id=7000005">Eve</a>\n• <a href="https://t.me/stranger">X</a>',
    )
    assert texts.classify(message) == Kind.MATCHES
    assert texts.match_contacts(message, {"demo_7000002": 7000002}) == (7000002, 7000005)


def test_fragment_is_the_longest_literal_piece():
    assert texts.fragment("🔔 <b>Round {round}</b>: your date is starting!") == ": your date is starting!"
    assert texts.fragment("{a} x {b}") == "x"


def test_the_compressed_timeline():
    created = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    options = DemoOptions(participants=10, women=4, silent=1, registration_seconds=20, round_seconds=8)
    timeline = event_timeline(options, created)
    assert timeline.deadline == created + timedelta(seconds=20)
    assert created < timeline.confirmations_open < timeline.deadline
    assert timeline.start == timeline.deadline + timedelta(
        seconds=options.planning_gap_seconds + options.rules_lead_seconds
    )
    assert timeline.round_start(2) - timeline.round_start(1) == timedelta(seconds=8 + options.break_seconds)
    assert timeline.finish() == timeline.round_end(4) + timedelta(seconds=options.break_seconds)
    columns = timeline.columns()
    assert columns["confirm_open_seconds"] >= columns["confirm_deadline_seconds"] >= 0
    assert columns["users_limit"] == 10 and columns["max_rounds"] == 4


def test_the_registration_window_grows_with_the_crowd():
    small, large = DemoOptions.fast(), DemoOptions.default()
    assert 15 <= registration_window(small) < registration_window(large) <= 60
    assert registration_window(large.with_overrides(participants=400, women=170)) > 2 * 400 * 13 / 30 / 2


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"participants": 1, "women": 1}, "--participants"),
        ({"women": 40}, "--women"),
        ({"silent": 39}, "--silent"),
        ({"break_seconds": 1}, "--break-seconds"),
    ],
)
def test_options_that_cannot_make_an_event(changes, problem):
    assert any(problem in p for p in DemoOptions.default().with_overrides(**changes).problems())


def test_the_default_and_fast_profiles_are_valid():
    assert DemoOptions.default().problems() == [] and DemoOptions.fast().problems() == []


def test_the_people():
    options = DemoOptions.default()
    people = make_people(options)
    assert len(people) == 40 and sum(p.gender == "F" for p in people) == 17
    assert len({p.name for p in people}) == 40 and len({p.user_id for p in people}) == 40
    assert sum(not p.confirms for p in people) == 3
    assert {p.language for p in people} == {"ru", "en"}
    reporters = [p for p in people if p.reports_first_partner]
    assert len(reporters) == 1 and reporters[0].confirms and reporters[0].gender == "M"
    assert any(p.username is None for p in people) and any(p.sends_photo for p in people)
    assert make_people(options) == people  # the same seed, the same people


def test_verdicts_depend_on_the_pair_not_the_order():
    person = make_people(DemoOptions.fast())[0]
    assert person.verdict(42, first_rating=False, seed=1) == person.verdict(42, first_rating=False, seed=1)
    verdicts = {person.verdict(partner, first_rating=False, seed=1) for partner in range(200)}
    assert verdicts == {"like", "dislike"}
    reporter = next(p for p in make_people(DemoOptions.fast()) if p.reports_first_partner)
    assert reporter.verdict(42, first_rating=True, seed=1) == "report"
