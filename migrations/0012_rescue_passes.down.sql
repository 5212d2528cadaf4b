ALTER TABLE public.event_dates DROP COLUMN IF EXISTS alone_told_at, DROP COLUMN IF EXISTS empty_at_check;
ALTER TABLE public.dating_events DROP COLUMN IF EXISTS rescue_pass;
