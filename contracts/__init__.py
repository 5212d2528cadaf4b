"""The wire contract between chathub_bot and datemaker (docs/protocol.md), imported by both services.

- :mod:`contracts.commands`: commands to datemaker, each a class with its name, arguments and reply
- :mod:`contracts.notifications`: commands to the bot, each a class with its name, body and priority
- :mod:`contracts.envelope`: message envelope, replies, parsing on arrival
- :mod:`contracts.profile`: what a profile may hold (limits, ages), for both sides
- :mod:`contracts.errors`: stable error codes
- :mod:`contracts.topology`: exchange, queues, routing keys
"""
