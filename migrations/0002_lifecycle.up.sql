-- The event lifecycle: progress of each event's timeline, Meet spaces per date, the outbox of
-- messages to the bot, and the results of the calls.

ALTER TABLE public.dating_events
    ADD COLUMN confirmations_opened_at timestamptz,
    ADD COLUMN planned_at              timestamptz,
    ADD COLUMN rounds_planned          integer NOT NULL DEFAULT 0,
    ADD COLUMN rules_sent_at           timestamptz,
    ADD COLUMN rounds_started          integer NOT NULL DEFAULT 0,
    ADD COLUMN rounds_ended            integer NOT NULL DEFAULT 0,
    ADD COLUMN finished_at             timestamptz,
    ADD COLUMN results_collected_at    timestamptz,
    ADD COLUMN closing_reason          text;

CREATE INDEX dating_events_active_idx ON public.dating_events (id)
    WHERE state_id IN (0, 1, 2, 3) OR (state_id = 4 AND results_collected_at IS NULL);

-- How many rounds each group of the plan has (all groups share the event's time slots).
ALTER TABLE public.event_groups ADD COLUMN rounds integer NOT NULL DEFAULT 0;

-- Where the plan put each registrant: a group, or a reason they could not be seated.
ALTER TABLE public.registrations
    ADD COLUMN group_no        integer,
    ADD COLUMN unseated_reason text;

-- The Meet space of each date, when its people were invited, when its call was ended.
ALTER TABLE public.event_dates
    ADD COLUMN space_name   text,
    ADD COLUMN meeting_uri  text,
    ADD COLUMN meeting_code text,
    ADD COLUMN invited_at   timestamptz,
    ADD COLUMN ended_at     timestamptz;

CREATE INDEX event_dates_round_idx ON public.event_dates (event_id, round_no);
CREATE INDEX event_dates_user_a_idx ON public.event_dates (user_a);
CREATE INDEX event_dates_unprepared_idx ON public.event_dates (event_id, round_no) WHERE space_name IS NULL;

-- Messages to the bot, written in the same transaction as the step that decided them and published
-- by a relay; the message id is deterministic, so a step that runs twice cannot send twice.
CREATE TABLE public.outbox (
    id          bigserial PRIMARY KEY,
    message_id  text NOT NULL UNIQUE,
    event_id    bigint REFERENCES public.dating_events (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL,
    type        text NOT NULL,
    headers     jsonb NOT NULL,
    body        jsonb NOT NULL,
    priority    smallint NOT NULL DEFAULT 5,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);

CREATE INDEX outbox_unsent_idx ON public.outbox (priority, id) WHERE sent_at IS NULL;
CREATE INDEX outbox_event_idx ON public.outbox (event_id);

-- Who actually joined each date's call, from the Meet API's conference records.
CREATE TABLE public.date_attendance (
    date_id      bigint NOT NULL REFERENCES public.event_dates (id) ON DELETE CASCADE,
    display_name text NOT NULL,
    joined_at    timestamptz NOT NULL,
    left_at      timestamptz,
    PRIMARY KEY (date_id, display_name, joined_at)
);
