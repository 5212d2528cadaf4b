-- A person asked to confirm again after two no-shows in a row: when, so the new request is a new message (the
-- outbox keys a confirmation request by the moment the person was to be asked afresh).
ALTER TABLE public.registrations ADD COLUMN reconfirm_asked_at timestamptz;
