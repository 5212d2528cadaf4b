-- organizer_actions.details was written as a JSON string holding the JSON of the details (encoded twice); each
-- becomes the object it names, as written from now on.
UPDATE public.organizer_actions SET details = (details #>> '{}')::jsonb WHERE jsonb_typeof(details) = 'string';
