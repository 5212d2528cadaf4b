DROP TABLE public.datemaker_instances;
ALTER TABLE public.dating_events DROP COLUMN rounds_warned, DROP COLUMN time_left_warning_seconds;
DROP INDEX public.event_dates_without_space_idx;
DROP INDEX public.event_dates_space_in_use_idx;
ALTER TABLE public.event_dates DROP COLUMN delayed_at, DROP COLUMN reused, DROP COLUMN space_id, DROP COLUMN table_no;
DROP TABLE public.meet_spaces;
