-- Schedules (docs/protocol.md section 6): standing rules that keep the calendar filled, the demand rules that
-- open an extra night for a full waitlist or tell organizers about a night far from full, the organizers,
-- and an event's age range.

-- The people told about nights far from full (`python -m datemaker organizers add|remove|list`).
CREATE TABLE public.organizers (
    user_id  bigint PRIMARY KEY CHECK (user_id > 0),
    added_at timestamptz NOT NULL DEFAULT now()
);

-- A standing rule: on these local days of the week (ISO: 1 = Monday ... 7 = Sunday), at this local time, in this
-- time zone; the settings of the events it creates (as dating_events' columns, with their defaults); how many
-- of its next events to keep open; its demand rules (null: off); and its state.
CREATE TABLE public.event_schedules (
    id                       bigserial PRIMARY KEY,
    weekdays                 smallint[] NOT NULL
        CHECK (cardinality(weekdays) BETWEEN 1 AND 7 AND weekdays <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[]),
    local_time               time NOT NULL,
    timezone                 text NOT NULL DEFAULT 'Europe/Moscow',
    users_limit              integer NOT NULL DEFAULT 20 CHECK (users_limit > 0),
    round_seconds            integer NOT NULL DEFAULT 300 CHECK (round_seconds > 0),
    break_seconds            integer NOT NULL DEFAULT 60 CHECK (break_seconds >= 0),
    rules_lead_seconds       integer NOT NULL DEFAULT 300 CHECK (rules_lead_seconds >= 0),
    confirm_open_seconds     integer NOT NULL DEFAULT 86400 CHECK (confirm_open_seconds >= 0),
    confirm_deadline_seconds integer NOT NULL DEFAULT 3600 CHECK (confirm_deadline_seconds >= 0),
    group_size               integer NOT NULL DEFAULT 20 CHECK (group_size >= 2),
    max_rounds               integer NOT NULL DEFAULT 10 CHECK (max_rounds >= 1),
    mode                     text NOT NULL DEFAULT 'bipartite' CHECK (mode IN ('bipartite', 'open')),
    min_age                  integer CHECK (min_age > 0),
    max_age                  integer CHECK (max_age > 0),
    time_left_warning_seconds integer NOT NULL DEFAULT 60 CHECK (time_left_warning_seconds >= 0),
    horizon                  integer NOT NULL DEFAULT 3 CHECK (horizon BETWEEN 1 AND 52),
    -- an extra night when an event's waitlist holds this many people
    extra_when_waitlist      integer CHECK (extra_when_waitlist > 0),
    -- where the extra night goes: this long after the full event (local time); null: the next free slot
    extra_offset_seconds     integer CHECK (extra_offset_seconds > 0),
    -- organizers are told when fewer than this percentage of the seats are taken ...
    alert_below_percent      integer DEFAULT 50 CHECK (alert_below_percent BETWEEN 1 AND 100),
    -- ... this long before confirmations open
    alert_lead_seconds       integer NOT NULL DEFAULT 86400 CHECK (alert_lead_seconds >= 0),
    state                    text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'ended')),
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    CHECK (confirm_open_seconds >= confirm_deadline_seconds),
    CHECK (min_age <= max_age)
);

CREATE INDEX event_schedules_active_idx ON public.event_schedules (id) WHERE state = 'active';

-- The schedule an event came from (null: made by hand or by the seed's INSERT), and, for an extra night, the event
-- whose waitlist opened it: each slot of a schedule and each extra night exist once, whoever creates them.
-- Seats held for the waitlisted people offered one (kept in step with seat_offers below) count as taken.
-- An event's age range (null: no limit). The time organizers were told the event is far from full.
ALTER TABLE public.dating_events
    ADD COLUMN schedule_id          bigint REFERENCES public.event_schedules (id),
    ADD COLUMN extra_for            bigint REFERENCES public.dating_events (id) ON DELETE SET NULL,
    ADD COLUMN held_seats           integer NOT NULL DEFAULT 0 CHECK (held_seats >= 0),
    ADD COLUMN min_age              integer CHECK (min_age > 0),
    ADD COLUMN max_age              integer CHECK (max_age > 0),
    ADD COLUMN underfill_alerted_at timestamptz,
    ADD CONSTRAINT dating_events_age_range_check CHECK (min_age <= max_age),
    ADD CONSTRAINT dating_events_schedule_slot_key UNIQUE (schedule_id, start_dttm),
    ADD CONSTRAINT dating_events_extra_for_key UNIQUE (extra_for),
    DROP CONSTRAINT dating_events_seats_check,
    ADD CONSTRAINT dating_events_seats_check CHECK (registered_count + held_seats <= users_limit);

-- A seat of an extra night offered to someone waiting for a seat at the full event (from_event_id). It stands
-- until accepted, until its person stops waiting there (a seat after all, cancelled, erased: withdrawn), or until
-- the extra night's registration closes.
CREATE TABLE public.seat_offers (
    event_id      bigint NOT NULL REFERENCES public.dating_events (id) ON DELETE CASCADE,
    user_id       bigint NOT NULL REFERENCES public.users (user_id) ON DELETE CASCADE,
    from_event_id bigint NOT NULL REFERENCES public.dating_events (id) ON DELETE CASCADE,
    offered_at    timestamptz NOT NULL,
    accepted_at   timestamptz,
    withdrawn_at  timestamptz,
    PRIMARY KEY (event_id, user_id),
    CHECK (accepted_at IS NULL OR withdrawn_at IS NULL)
);

CREATE INDEX seat_offers_pending_idx ON public.seat_offers (from_event_id, user_id)
    WHERE accepted_at IS NULL AND withdrawn_at IS NULL;

-- Pending offers hold seats of their event, counted on the event row in the same transaction as the change.
CREATE FUNCTION public.seat_offers_keep_holds() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    held integer := 0;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.accepted_at IS NULL AND OLD.withdrawn_at IS NULL THEN
        held := held - 1;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.accepted_at IS NULL AND NEW.withdrawn_at IS NULL THEN
        held := held + 1;
    END IF;
    IF held <> 0 THEN
        UPDATE public.dating_events SET held_seats = held_seats + held WHERE id = COALESCE(NEW.event_id, OLD.event_id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER seat_offers_keep_holds
    AFTER INSERT OR UPDATE OF accepted_at, withdrawn_at OR DELETE ON public.seat_offers
    FOR EACH ROW EXECUTE FUNCTION public.seat_offers_keep_holds();

-- Someone who stops waiting at the full event (a seat after all, cancelled, declined) loses its offers.
CREATE FUNCTION public.registrations_withdraw_offers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.waitlisted AND OLD.cancelled_at IS NULL AND OLD.declined_at IS NULL
       AND NOT (NEW.waitlisted AND NEW.cancelled_at IS NULL AND NEW.declined_at IS NULL) THEN
        UPDATE public.seat_offers SET withdrawn_at = now()
        WHERE from_event_id = NEW.event_id AND user_id = NEW.user_id AND accepted_at IS NULL AND withdrawn_at IS NULL;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER registrations_withdraw_offers
    AFTER UPDATE OF waitlisted, cancelled_at, declined_at ON public.registrations
    FOR EACH ROW EXECUTE FUNCTION public.registrations_withdraw_offers();

-- Analytics may read schedules and offers (pseudonymous ids, no personal data); organizers are people: no.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chathub_datemaker') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON public.organizers, public.event_schedules, public.seat_offers
            TO chathub_datemaker;
        GRANT USAGE, SELECT ON SEQUENCE public.event_schedules_id_seq TO chathub_datemaker;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chathub_analytics') THEN
        GRANT SELECT ON public.event_schedules, public.seat_offers TO chathub_analytics;
    END IF;
END;
$$;
