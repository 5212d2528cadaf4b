-- The rescue watch keeps looking at a running round after its first check, until three quarters in: each pass is
-- made once, whichever instance claims it (rescue_pass: the number of the last pass over the last checked round).
-- A date neither of whose people was in the call at the first check is looked at again (empty_at_check); a stranded
-- person is told once that nobody is free (alone_told_at, on the given-up date they were in).
ALTER TABLE public.dating_events ADD COLUMN rescue_pass integer NOT NULL DEFAULT 0;
ALTER TABLE public.event_dates
    ADD COLUMN empty_at_check boolean NOT NULL DEFAULT false,
    ADD COLUMN alone_told_at timestamptz;
