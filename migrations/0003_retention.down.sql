DROP INDEX IF EXISTS public.dating_events_closed_idx;
DROP TABLE IF EXISTS public.event_stats;
