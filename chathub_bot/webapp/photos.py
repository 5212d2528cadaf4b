"""Profile photos for the Mini App: a Telegram file id fetched through the Bot API (``getFile``, then the file's
download URL), kept in a small memory cache, and served only when it is a picture."""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest

logger = logging.getLogger(__name__)

MAX_PHOTO_BYTES = 5 * 1024 * 1024
"""A profile photo as Telegram stores it is far smaller; anything larger is not served."""
_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


@dataclass(frozen=True)
class Photo:
    content: bytes
    content_type: str


def image_type(content: bytes) -> str | None:
    """The picture's media type from its first bytes (JPEG, PNG, GIF, WebP), or None for anything else."""
    for signature, media_type in _SIGNATURES:
        if content.startswith(signature):
            return media_type
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return None


class TelegramPhotos:
    """Fetches photos by file id through the bot; the last ``cache_bytes`` worth are kept in memory."""

    def __init__(self, bot: Bot, *, cache_bytes: int = 32 * 1024 * 1024, timeout: int = 10) -> None:
        self.bot = bot
        self.timeout = timeout
        self._cache_bytes = cache_bytes
        self._cache: collections.OrderedDict[str, Photo] = collections.OrderedDict()
        self._cached = 0

    async def get(self, file_id: str) -> Photo | None:
        """The photo, or None when Telegram does not know the file or it is not a picture of a sensible size.
        Network trouble raises (aiogram's ``TelegramNetworkError``, aiohttp's errors)."""
        photo = self._cache.get(file_id)
        if photo is not None:
            self._cache.move_to_end(file_id)
            return photo
        try:
            file = await self.bot.get_file(file_id)
        except TelegramBadRequest as exc:
            logger.info("Telegram does not give file %s: %s", file_id[:16], exc.message)
            return None
        if not file.file_path or (file.file_size or 0) > MAX_PHOTO_BYTES:
            return None
        stream = await self.bot.download_file(file.file_path, timeout=self.timeout)
        content = stream.read(MAX_PHOTO_BYTES + 1) if stream is not None else b""
        media_type = image_type(content)
        if media_type is None or len(content) > MAX_PHOTO_BYTES:
            logger.warning("file %s is not a picture to show (%d bytes)", file_id[:16], len(content))
            return None
        photo = Photo(content, media_type)
        self._remember(file_id, photo)
        return photo

    def _remember(self, file_id: str, photo: Photo) -> None:
        self._cache[file_id] = photo
        self._cached += len(photo.content)
        while self._cached > self._cache_bytes and self._cache:
            _, dropped = self._cache.popitem(last=False)
            self._cached -= len(dropped.content)
