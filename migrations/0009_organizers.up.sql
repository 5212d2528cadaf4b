-- Organizers and participants (issue 15): a participant's partner age range, the log of organizer actions, bans.

-- The ages a participant wants to meet (null: no limit on that side). The planner treats them as a hard
-- constraint in both directions.
ALTER TABLE public.users
    ADD COLUMN partner_age_min integer CHECK (partner_age_min BETWEEN 18 AND 120),
    ADD COLUMN partner_age_max integer CHECK (partner_age_max BETWEEN 18 AND 120),
    ADD CONSTRAINT users_partner_age_range_check CHECK (partner_age_min <= partner_age_max);

-- Reports get an id, so that an organizer can name one (the seed's key stays the primary key).
ALTER TABLE public.reports ADD COLUMN id bigserial UNIQUE;

-- Every action an organizer takes through datemaker's organizer_* commands: who, what, when.
CREATE TABLE public.organizer_actions (
    id           bigserial PRIMARY KEY,
    organizer_id bigint NOT NULL,
    action       text NOT NULL,
    event_id     bigint,
    user_id      bigint,
    details      jsonb NOT NULL DEFAULT '{}'::jsonb,
    at           timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX organizer_actions_at_idx ON public.organizer_actions (at);

-- People an organizer banned: refused at registration (`banned`) and taken out of upcoming plans.
CREATE TABLE public.banned_users (
    user_id   bigint PRIMARY KEY CHECK (user_id > 0),
    reason    text NOT NULL,
    banned_by bigint NOT NULL,
    banned_at timestamptz NOT NULL DEFAULT now()
);

-- Rescue (partner_absent): a date whose partner never joined is given up (abandoned_at; absent_user is who did not
-- come); its stranded person may get a rescue date in the same round. A person has one date per round that is not
-- given up. The no-show streak counts a person's dates missed in a row; at two they are asked to reconfirm.
ALTER TABLE public.event_dates
    ADD COLUMN rescue       boolean NOT NULL DEFAULT false,
    ADD COLUMN abandoned_at timestamptz,
    ADD COLUMN absent_user  bigint,
    DROP CONSTRAINT event_dates_event_id_round_no_user_a_key,
    DROP CONSTRAINT event_dates_event_id_round_no_user_b_key;
CREATE UNIQUE INDEX event_dates_round_user_a_key ON public.event_dates (event_id, round_no, user_a)
    WHERE abandoned_at IS NULL;
CREATE UNIQUE INDEX event_dates_round_user_b_key ON public.event_dates (event_id, round_no, user_b)
    WHERE abandoned_at IS NULL;
ALTER TABLE public.dating_events ADD COLUMN rounds_rescued integer NOT NULL DEFAULT 0;
ALTER TABLE public.users ADD COLUMN no_show_streak integer NOT NULL DEFAULT 0;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chathub_datemaker') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON public.organizer_actions, public.banned_users TO chathub_datemaker;
        GRANT USAGE, SELECT ON SEQUENCE public.organizer_actions_id_seq, public.reports_id_seq TO chathub_datemaker;
    END IF;
END;
$$;
