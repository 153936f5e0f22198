"""One database transaction per request, committed before the response leaves.

Every `/v1` route runs inside `TransactionalRoute`: it opens the request's session,
claims the `Idempotency-Key` of a POST, runs the endpoint, saves the response for
replay in the same transaction, and commits. Committing here rather than in a
dependency's teardown keeps the replay record and the change atomic, and means a
client never sees a 2xx for a change that failed to commit.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from order_service import idempotency
from order_service.context import services


class TransactionalRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run_in_transaction(request: Request) -> Response:
            svc = services(request)
            now = svc.clock()
            request.state.now = now
            async with svc.sessionmaker() as session, session.begin():
                request.state.session = session
                claimed = None
                key = request.headers.get(idempotency.HEADER)
                if request.method == "POST" and key is not None:
                    outcome = await idempotency.claim(session, request, key, now)
                    if isinstance(outcome, Response):
                        return outcome
                    claimed = outcome
                response = await handler(request)
                if claimed is not None and 200 <= response.status_code < 300:
                    await idempotency.save(
                        session, request, claimed, response, now, svc.settings.idempotency_ttl
                    )
            return response

        return run_in_transaction
