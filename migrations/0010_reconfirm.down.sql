ALTER TABLE public.registrations DROP COLUMN IF EXISTS reconfirm_asked_at;
