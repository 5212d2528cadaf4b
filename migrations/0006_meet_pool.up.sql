-- Meet spaces under Google's quota (second release): a pool of spaces shared by every event, made ahead
-- through one or more Google accounts; dates take spaces from it, or take over their table's space;
-- a date whose link was late is told so; a warning before each round ends; datemaker instances that
-- share the events between them.

CREATE TABLE public.meet_spaces (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL UNIQUE,           -- spaces/{space}
    meeting_uri  text NOT NULL,
    meeting_code text,
    account      text NOT NULL,                  -- the Google account that made it (and may end its calls)
    created_at   timestamptz NOT NULL DEFAULT now(),
    retired_at   timestamptz                     -- never given to a date again
);

ALTER TABLE public.event_dates
    ADD COLUMN table_no   integer,                             -- its place in its group's round (set by the plan)
    ADD COLUMN space_id   bigint REFERENCES public.meet_spaces (id),
    ADD COLUMN reused     boolean NOT NULL DEFAULT false,  -- the table's space of the round before
    ADD COLUMN delayed_at timestamptz;                     -- its people were told their link is late

-- A space serves one date at a time: the spaces of dates whose call is not over.
CREATE INDEX event_dates_space_in_use_idx ON public.event_dates (space_id) WHERE ended_at IS NULL;
CREATE INDEX event_dates_without_space_idx ON public.event_dates (event_id, round_no)
    WHERE space_id IS NULL AND invited_at IS NULL;

ALTER TABLE public.dating_events
    ADD COLUMN time_left_warning_seconds integer NOT NULL DEFAULT 60 CHECK (time_left_warning_seconds >= 0),
    ADD COLUMN rounds_warned             integer NOT NULL DEFAULT 0;

-- Running datemaker instances: each says it is alive every few seconds, and runs the events that
-- rendezvous hashing gives it among the living.
CREATE TABLE public.datemaker_instances (
    instance_id text PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT now(),
    seen_at     timestamptz NOT NULL DEFAULT now()
);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chathub_datemaker') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON public.meet_spaces, public.datemaker_instances TO chathub_datemaker;
        GRANT USAGE, SELECT ON SEQUENCE public.meet_spaces_id_seq TO chathub_datemaker;
    END IF;
END;
$$;
