"""Conversation handlers: plain functions of a small context that return a reply."""

from handlers.context import Context, Incoming, Reply, State
from handlers.conversation import handle, new_context

__all__ = ["Context", "Incoming", "Reply", "State", "handle", "new_context"]
