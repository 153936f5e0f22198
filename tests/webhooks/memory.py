"""An in-memory transport, installed in tests the way a third-party package would be:
through the `order_service.transports` entry-point group."""

from __future__ import annotations

from order_service.settings import Settings
from order_service.webhooks.transports import Message, Outcome

SENT: list[tuple[str, Message]] = []


class MemoryTransport:
    def __init__(self, settings: Settings) -> None:
        del settings

    async def validate(self, url: str) -> None:
        del url

    async def send(self, url: str, message: Message) -> Outcome:
        SENT.append((url, message))
        return Outcome(ok=True)

    async def aclose(self) -> None:
        return None
