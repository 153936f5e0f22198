"""Who acts: the API key of a request, or the service itself."""

from __future__ import annotations

from dataclasses import dataclass

from order_service.auth.schemas import Role


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: recorded on the timeline with every change."""

    id: str
    name: str
    role: Role

    @property
    def is_merchant(self) -> bool:
        return self.role in (Role.ops, Role.admin)


SYSTEM = Actor(id="system", name="order-service", role=Role.admin)
