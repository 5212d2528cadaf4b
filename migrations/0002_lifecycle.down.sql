DROP TABLE IF EXISTS public.date_attendance;
DROP TABLE IF EXISTS public.outbox;
DROP INDEX IF EXISTS public.event_dates_unprepared_idx;
DROP INDEX IF EXISTS public.event_dates_round_idx;
DROP INDEX IF EXISTS public.event_dates_user_a_idx;
ALTER TABLE public.event_groups DROP COLUMN IF EXISTS rounds;
ALTER TABLE public.event_dates
    DROP COLUMN IF EXISTS space_name,
    DROP COLUMN IF EXISTS meeting_uri,
    DROP COLUMN IF EXISTS meeting_code,
    DROP COLUMN IF EXISTS invited_at,
    DROP COLUMN IF EXISTS ended_at;
ALTER TABLE public.registrations
    DROP COLUMN IF EXISTS group_no,
    DROP COLUMN IF EXISTS unseated_reason;
DROP INDEX IF EXISTS public.dating_events_active_idx;
ALTER TABLE public.dating_events
    DROP COLUMN IF EXISTS confirmations_opened_at,
    DROP COLUMN IF EXISTS planned_at,
    DROP COLUMN IF EXISTS rounds_planned,
    DROP COLUMN IF EXISTS rules_sent_at,
    DROP COLUMN IF EXISTS rounds_started,
    DROP COLUMN IF EXISTS rounds_ended,
    DROP COLUMN IF EXISTS finished_at,
    DROP COLUMN IF EXISTS results_collected_at,
    DROP COLUMN IF EXISTS closing_reason;
