"""What a consumer decides about a delivery; the transport adapter carries it out."""

from enum import Enum


class Disposition(Enum):
    ACK = "ack"
    RETRY = "retry"
    """Put it back in the queue; after ``contracts.topology.DELIVERY_LIMIT`` deliveries it is dead-lettered."""
    DEAD_LETTER = "dead_letter"
