-- Chathub initial schema: users, events, registrations, plans, ratings, idempotency.

CREATE TABLE public.event_states (
    id         smallint PRIMARY KEY,
    state_name text NOT NULL UNIQUE
);

INSERT INTO public.event_states (id, state_name) VALUES
    (0, 'NOT_STARTED'),
    (1, 'REG_CONFIRM'),
    (2, 'READY'),
    (3, 'RUNNING'),
    (4, 'FINISHED'),
    (5, 'SKIPPED'),
    (6, 'CANCELLED');

-- A participant, keyed by Telegram user id; the profile lives on the same row.
CREATE TABLE public.users (
    user_id       bigint PRIMARY KEY,
    chat_id       bigint NOT NULL,
    name          text NOT NULL,
    gender        char(1) NOT NULL CHECK (gender IN ('M', 'F')),
    birthday      date NOT NULL,
    city          text NOT NULL,
    bio           text,
    username      text,
    language      text,
    seeking       char(1)[],
    photo_file_id text,
    manual_score  smallint NOT NULL DEFAULT 0,
    rating        real NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.dating_events (
    id                       bigserial PRIMARY KEY,
    start_dttm               timestamptz NOT NULL,
    timezone                 text NOT NULL DEFAULT 'Europe/Moscow',
    users_limit              integer NOT NULL DEFAULT 20 CHECK (users_limit > 0),
    state_id                 smallint NOT NULL DEFAULT 0 REFERENCES public.event_states (id),
    round_seconds            integer NOT NULL DEFAULT 300 CHECK (round_seconds > 0),
    break_seconds            integer NOT NULL DEFAULT 60 CHECK (break_seconds >= 0),
    rules_lead_seconds       integer NOT NULL DEFAULT 300 CHECK (rules_lead_seconds >= 0),
    confirm_open_seconds     integer NOT NULL DEFAULT 86400 CHECK (confirm_open_seconds >= 0),
    confirm_deadline_seconds integer NOT NULL DEFAULT 3600 CHECK (confirm_deadline_seconds >= 0),
    group_size               integer NOT NULL DEFAULT 20 CHECK (group_size >= 2),
    max_rounds               integer NOT NULL DEFAULT 10 CHECK (max_rounds >= 1),
    mode                     text NOT NULL DEFAULT 'bipartite' CHECK (mode IN ('bipartite', 'open')),
    -- Kept in step with registrations by a trigger (below), so capacity checks never count rows, and
    -- guarded by the checks: a registration beyond capacity fails, whatever code writes it.
    registered_count         integer NOT NULL DEFAULT 0 CHECK (registered_count >= 0),
    waitlisted_count         integer NOT NULL DEFAULT 0 CHECK (waitlisted_count >= 0),
    created_at               timestamptz NOT NULL DEFAULT now(),
    CHECK (confirm_open_seconds >= confirm_deadline_seconds),
    CONSTRAINT dating_events_seats_check CHECK (registered_count <= users_limit),
    CONSTRAINT dating_events_waitlist_check CHECK (waitlisted_count <= users_limit)
);

CREATE INDEX dating_events_upcoming_idx ON public.dating_events (start_dttm) WHERE state_id IN (0, 1, 2, 3);

-- One row per user and event; the timestamps tell the registration's story.
CREATE TABLE public.registrations (
    event_id             bigint NOT NULL REFERENCES public.dating_events (id) ON DELETE CASCADE,
    user_id              bigint NOT NULL REFERENCES public.users (user_id) ON DELETE CASCADE,
    registered_at        timestamptz NOT NULL DEFAULT now(),
    waitlisted           boolean NOT NULL DEFAULT false,
    confirmation_sent_at timestamptz,
    confirmed_at         timestamptz,
    declined_at          timestamptz,
    cancelled_at         timestamptz,
    ready_at             timestamptz,
    PRIMARY KEY (event_id, user_id)
);

CREATE INDEX registrations_user_idx ON public.registrations (user_id);

-- Seats and waitlist places held, counted on the event row in the same transaction as the change.
CREATE FUNCTION public.registrations_keep_counts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    seats integer := 0;
    waiting integer := 0;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.cancelled_at IS NULL AND OLD.declined_at IS NULL THEN
        IF OLD.waitlisted THEN waiting := waiting - 1; ELSE seats := seats - 1; END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.cancelled_at IS NULL AND NEW.declined_at IS NULL THEN
        IF NEW.waitlisted THEN waiting := waiting + 1; ELSE seats := seats + 1; END IF;
    END IF;
    IF seats <> 0 OR waiting <> 0 THEN
        UPDATE public.dating_events
        SET registered_count = registered_count + seats, waitlisted_count = waitlisted_count + waiting
        WHERE id = COALESCE(NEW.event_id, OLD.event_id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER registrations_keep_counts
    AFTER INSERT OR UPDATE OF waitlisted, cancelled_at, declined_at OR DELETE ON public.registrations
    FOR EACH ROW EXECUTE FUNCTION public.registrations_keep_counts();
-- The next waitlisted person to promote, in registration order.
CREATE INDEX registrations_waitlist_idx ON public.registrations (event_id, registered_at)
    WHERE waitlisted AND cancelled_at IS NULL AND declined_at IS NULL;

-- The plan: groups of an event, and one row per date (a pair meeting in a round).
CREATE TABLE public.event_groups (
    event_id bigint NOT NULL REFERENCES public.dating_events (id) ON DELETE CASCADE,
    group_no integer NOT NULL,
    members  bigint[] NOT NULL,
    PRIMARY KEY (event_id, group_no)
);

CREATE TABLE public.event_dates (
    id          bigserial PRIMARY KEY,
    event_id    bigint NOT NULL REFERENCES public.dating_events (id) ON DELETE CASCADE,
    group_no    integer NOT NULL,
    round_no    integer NOT NULL,
    user_a      bigint NOT NULL REFERENCES public.users (user_id),
    user_b      bigint NOT NULL REFERENCES public.users (user_id),
    score       real,
    CHECK (user_a < user_b),
    UNIQUE (event_id, round_no, user_a),
    UNIQUE (event_id, round_no, user_b)
);

CREATE INDEX event_dates_pair_idx ON public.event_dates (event_id, user_a, user_b);
CREATE INDEX event_dates_user_b_idx ON public.event_dates (user_b);

-- Ratings after a date. A report also blocks the pair from meeting again.
CREATE TABLE public.likes (
    event_id   bigint NOT NULL REFERENCES public.dating_events (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES public.users (user_id) ON DELETE CASCADE,
    partner_id bigint NOT NULL REFERENCES public.users (user_id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, user_id, partner_id)
);

CREATE TABLE public.dislikes (
    event_id   bigint NOT NULL REFERENCES public.dating_events (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES public.users (user_id) ON DELETE CASCADE,
    partner_id bigint NOT NULL REFERENCES public.users (user_id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, user_id, partner_id)
);

CREATE TABLE public.reports (
    event_id   bigint NOT NULL REFERENCES public.dating_events (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES public.users (user_id) ON DELETE CASCADE,
    partner_id bigint NOT NULL REFERENCES public.users (user_id) ON DELETE CASCADE,
    reason     text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, user_id, partner_id)
);

CREATE INDEX reports_user_idx ON public.reports (user_id);
CREATE INDEX reports_partner_idx ON public.reports (partner_id);

-- Mutual likes: one row per direction, so each user finds their matches by user_id.
CREATE VIEW public.matches AS
    SELECT a.event_id, a.user_id, a.partner_id
    FROM public.likes a
    JOIN public.likes b
      ON b.event_id = a.event_id AND b.user_id = a.partner_id AND b.partner_id = a.user_id;

-- Lets one statement refuse to finish when its parts disagree (SQL has no RAISE of its own).
CREATE FUNCTION public.chathub_abort(reason text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', reason USING ERRCODE = 'CH409';
END;
$$;

-- Idempotency: the reply to every processed command, by the command's message_id.
CREATE TABLE public.processed_messages (
    message_id   text PRIMARY KEY,
    command      text NOT NULL,
    reply        jsonb NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX processed_messages_age_idx ON public.processed_messages (processed_at);
