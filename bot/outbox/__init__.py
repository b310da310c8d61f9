"""The outbox relay: delivers stored incident events to their subscribers (see relay)."""

from bot.outbox.relay import Relay, Retry, Subscriber

__all__ = ["Relay", "Retry", "Subscriber"]
