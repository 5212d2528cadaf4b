ALTER TABLE public.users DROP COLUMN IF EXISTS no_show_streak;
ALTER TABLE public.dating_events DROP COLUMN IF EXISTS rounds_rescued;
DROP INDEX IF EXISTS public.event_dates_round_user_a_key;
DROP INDEX IF EXISTS public.event_dates_round_user_b_key;
DELETE FROM public.event_dates WHERE rescue;
ALTER TABLE public.event_dates
    DROP COLUMN IF EXISTS absent_user,
    DROP COLUMN IF EXISTS abandoned_at,
    DROP COLUMN IF EXISTS rescue,
    ADD CONSTRAINT event_dates_event_id_round_no_user_a_key UNIQUE (event_id, round_no, user_a),
    ADD CONSTRAINT event_dates_event_id_round_no_user_b_key UNIQUE (event_id, round_no, user_b);
DROP TABLE IF EXISTS public.banned_users;
DROP TABLE IF EXISTS public.organizer_actions;
ALTER TABLE public.reports DROP COLUMN IF EXISTS id;
ALTER TABLE public.users
    DROP CONSTRAINT IF EXISTS users_partner_age_range_check,
    DROP COLUMN IF EXISTS partner_age_max,
    DROP COLUMN IF EXISTS partner_age_min;
