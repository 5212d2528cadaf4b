-- Privacy (second release): idempotency records belong to a user, profiles can be erased, and
-- notifications go to the user's own private chat.

-- A repeated message id is the same command only from the same user.
ALTER TABLE public.processed_messages ADD COLUMN user_id bigint;

-- Telegram's private chat with a user has the user's id; a group must never receive a user's messages.
UPDATE public.users SET chat_id = user_id WHERE chat_id <> user_id;

-- Erasure keeps the row under the Telegram id (the pairing blocks that protect other people stay with
-- it) and clears every personal detail; a profile exists while erased_at is null.
ALTER TABLE public.users
    ADD COLUMN erased_at timestamptz,
    ALTER COLUMN name DROP NOT NULL,
    ALTER COLUMN gender DROP NOT NULL,
    ALTER COLUMN birthday DROP NOT NULL,
    ALTER COLUMN city DROP NOT NULL,
    ADD CONSTRAINT users_profile_or_erased CHECK (
        erased_at IS NOT NULL
        OR (name IS NOT NULL AND gender IS NOT NULL AND birthday IS NOT NULL AND city IS NOT NULL));

-- Finds profiles nobody used for the retention period.
CREATE INDEX users_last_update_idx ON public.users (updated_at) WHERE erased_at IS NULL;
