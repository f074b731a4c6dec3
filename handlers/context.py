"""What a handler gets: the incoming message and the services around it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlite_utils import Database


class State(StrEnum):
    """Where a citizen's conversation stands."""

    IDLE = "idle"
    AWAIT_COMPLAINT = "await_complaint"
    AWAIT_CONFIRM = "await_confirm"
    ASK_UNIT = "ask_unit"
    ASK_TIME = "ask_time"
    ASK_PHONE = "ask_phone"
    AWAIT_QUERY = "await_query"


@dataclass
class Incoming:
    """One citizen message, already verified and parsed by the webhook."""

    key: str
    openid: str
    msg_type: str
    text: str = ""
    event: str = ""
    event_key: str = ""
    media_id: str = ""
    pic_url: str = ""
    latitude: float | None = None
    longitude: float | None = None
    label: str = ""


@dataclass
class Context:
    """A handler's whole world: message, state, storage, config, clock."""

    incoming: Incoming
    db: Database
    config: dict[str, Any]
    now: datetime
    state: State = State.IDLE
    data: dict[str, Any] = field(default_factory=dict)
    ticket_number: str | None = None   # a ticket this message created or touched

    @property
    def openid(self) -> str:
        return self.incoming.openid


@dataclass
class Reply:
    """A handler's answer: text for the citizen and the conversation's next state."""

    text: str
    state: State = State.IDLE
    data: dict[str, Any] = field(default_factory=dict)
