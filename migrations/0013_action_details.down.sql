-- Back to the encoding the earlier code wrote and read: each object as a JSON string of itself.
UPDATE public.organizer_actions SET details = to_jsonb(details::text) WHERE jsonb_typeof(details) = 'object';
