-- The Mini App (issue 12): a user's mutual matches are read by user (list_matches), across events.
CREATE INDEX likes_user_idx ON public.likes (user_id);
