"""Adapters both services share: the RabbitMQ transport and logging set-up."""
