-- Data retention: anonymous counts of each finished event, kept after its personal data is deleted
-- (call attendance, the reasons of reports, its messages to the bot). Computed once, by the
-- retention job, just before that deletion.

CREATE TABLE public.event_stats (
    event_id       bigint PRIMARY KEY REFERENCES public.dating_events (id) ON DELETE CASCADE,
    registered     integer NOT NULL,  -- everyone who registered, including those who later left
    waitlisted     integer NOT NULL,  -- still waiting for a seat when the event closed
    confirmed      integer NOT NULL,
    declined       integer NOT NULL,
    cancelled      integer NOT NULL,
    seated         integer NOT NULL,  -- placed in a group by the plan
    dates_planned  integer NOT NULL,
    dates_held     integer NOT NULL,  -- dates whose people were sent their link
    joined_calls   integer NOT NULL,  -- people in the calls, at most two per date
    likes          integer NOT NULL,
    dislikes       integer NOT NULL,
    reports        integer NOT NULL,
    mutual_matches integer NOT NULL,  -- pairs who liked each other
    computed_at    timestamptz NOT NULL,
    purged_at      timestamptz NOT NULL  -- the last time the job deleted this event's personal data
);

-- Finds the events whose retention period is over.
CREATE INDEX dating_events_closed_idx ON public.dating_events ((coalesce(finished_at, start_dttm)))
    WHERE state_id IN (4, 5, 6);

-- The services' roles (0004_roles) may exist already when this runs after it: give them the table too.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chathub_datemaker') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON public.event_stats TO chathub_datemaker;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chathub_analytics') THEN
        GRANT SELECT ON public.event_stats TO chathub_analytics;
    END IF;
END;
$$;
