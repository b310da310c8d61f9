"""Errors the incident service raises. `UserError` messages are shown to the person as-is."""


class UserError(Exception):
    """Something the person asked for cannot be done; the message says why and what to do."""


class ChatError(Exception):
    """The chat platform refused or failed a call for good; `error` is its error code."""

    def __init__(self, method: str, error: str) -> None:
        super().__init__(f"{method} failed: {error}")
        self.method = method
        self.error = error


class ChannelNameTaken(ChatError):
    pass


class NeedsConfirmation(UserError):
    """Resolving now would leave `before_resolve` checklist items open: ask first."""

    def __init__(self, incident_id: int, open_items: list[str], confirmation_id: int) -> None:
        listed = "\n".join(f"• {item}" for item in open_items)
        super().__init__(f"These checklist items are still open:\n{listed}\nResolve anyway?")
        self.incident_id = incident_id
        self.open_items = open_items
        self.confirmation_id = confirmation_id  # what the "Resolve anyway" button answers


class SeverityNeedsConfirmation(UserError):
    """A big severity change (two levels or more, or the top severity lowered): ask first."""

    def __init__(self, incident_id: int, old: str, new: str, confirmation_id: int) -> None:
        super().__init__(f"Change the severity from {old} to {new}?")
        self.incident_id = incident_id
        self.old = old
        self.new = new
        self.confirmation_id = confirmation_id  # what the "Change severity" button answers
