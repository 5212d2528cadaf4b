-- Reports an organizer dismissed (organizer_dismiss_report): a report is open while it is not resolved and the
-- person it is about is not banned. A resolved report still blocks the two people from meeting again.
ALTER TABLE public.reports
    ADD COLUMN resolved_at timestamptz,
    ADD COLUMN resolved_by bigint,
    ADD CONSTRAINT reports_resolved_check CHECK ((resolved_at IS NULL) = (resolved_by IS NULL));

CREATE INDEX reports_open_idx ON public.reports (created_at DESC, id DESC) WHERE resolved_at IS NULL;
