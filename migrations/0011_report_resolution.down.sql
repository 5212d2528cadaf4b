DROP INDEX IF EXISTS public.reports_open_idx;
ALTER TABLE public.reports
    DROP CONSTRAINT IF EXISTS reports_resolved_check,
    DROP COLUMN IF EXISTS resolved_by,
    DROP COLUMN IF EXISTS resolved_at;
