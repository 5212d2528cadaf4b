-- Erased profiles get placeholders back where the columns become NOT NULL again; chat ids stay private.
DROP INDEX public.users_last_update_idx;
UPDATE public.users SET name = coalesce(name, ''), gender = coalesce(gender, 'M'),
    birthday = coalesce(birthday, DATE '1900-01-01'), city = coalesce(city, '')
    WHERE erased_at IS NOT NULL;
ALTER TABLE public.users
    DROP CONSTRAINT users_profile_or_erased,
    ALTER COLUMN name SET NOT NULL,
    ALTER COLUMN gender SET NOT NULL,
    ALTER COLUMN birthday SET NOT NULL,
    ALTER COLUMN city SET NOT NULL,
    DROP COLUMN erased_at;
ALTER TABLE public.processed_messages DROP COLUMN user_id;
