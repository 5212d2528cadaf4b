"""Chathub's Telegram bot: profiles, the dating menu and event messages for participants.

It talks to Telegram through aiogram (every send paced by the outbox) and to datemaker only through RabbitMQ.
"""
