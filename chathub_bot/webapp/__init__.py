"""The Telegram Mini App: a page at ``/app/`` and its API under ``/app/api/`` (docs/protocol.md section 8), served by
the bot process on ``WEBAPP_PORT``. The API acts only as the user of Telegram's signed init data, through the
same datemaker commands as the chat.

The page (``static/``) is plain HTML, CSS and JavaScript with no build step and no third-party script; the
README's "The Mini App" section says why."""
