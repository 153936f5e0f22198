"""The request context every service takes: who acts, when, under which settings, and the
unit of work it acts in, with its outbox."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from order_service.auth.actor import SYSTEM, Actor
from order_service.kit import sql
from order_service.settings import Settings


@dataclass(slots=True, frozen=True)
class Context:
    """One unit of work. The API builds one per request (`http.context`), the worker and
    the CLI one per transaction (`Context.system`); services take it first and flush, never
    commit: whoever made it commits the change, its timeline entries and its events together.
    """

    session: AsyncSession
    actor: Actor
    now: datetime
    """The time of the whole unit of work: every row it writes carries the same instant."""
    settings: Settings
    outbox: sql.Outbox | None = None
    """Rows held for the request's last statement (events, timeline entries, refunds), or
    None where they are written at once (the worker, the CLI)."""

    @classmethod
    def system(cls, session: AsyncSession, now: datetime, settings: Settings) -> Context:
        """The service acting by itself (follow-ups, the CLI)."""
        return cls(session, SYSTEM, now, settings)

    async def insert(
        self,
        name: str,
        insert: sql.Insert,
        row: Mapping[str, Any],
        then: sql.Then | None = None,
    ) -> None:
        """Insert `row` in this unit of work: held in the outbox for the request's last
        statement (rows of one `name` keep the order they came in), or written now."""
        if self.outbox is not None:
            self.outbox.hold(name, insert, row, then)
        elif then is not None:
            await sql.insert_with(self.session, insert, row, then)
        else:
            await insert.execute(self.session, row)
