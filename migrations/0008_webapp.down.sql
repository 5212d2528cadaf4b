DROP INDEX IF EXISTS public.likes_user_idx;
