"""The wire contract between chathub_bot and datemaker (PROTOCOL.md), imported by both services.

- :mod:`contracts.envelope`: message envelope, replies, parsing on arrival
- :mod:`contracts.commands`: commands to datemaker and their reply data
- :mod:`contracts.notifications`: commands to the bot
- :mod:`contracts.errors`: stable error codes
- :mod:`contracts.topology`: exchange, queues, routing keys
"""
