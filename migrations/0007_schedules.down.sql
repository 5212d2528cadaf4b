DROP TRIGGER IF EXISTS registrations_withdraw_offers ON public.registrations;
DROP FUNCTION IF EXISTS public.registrations_withdraw_offers();
DROP TABLE IF EXISTS public.seat_offers;
DROP FUNCTION IF EXISTS public.seat_offers_keep_holds();
ALTER TABLE public.dating_events
    DROP CONSTRAINT dating_events_seats_check,
    ADD CONSTRAINT dating_events_seats_check CHECK (registered_count <= users_limit),
    DROP COLUMN IF EXISTS schedule_id,
    DROP COLUMN IF EXISTS extra_for,
    DROP COLUMN IF EXISTS held_seats,
    DROP COLUMN IF EXISTS min_age,
    DROP COLUMN IF EXISTS max_age,
    DROP COLUMN IF EXISTS underfill_alerted_at;
DROP TABLE IF EXISTS public.event_schedules;
DROP TABLE IF EXISTS public.organizers;
