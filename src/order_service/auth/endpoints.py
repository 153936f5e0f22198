from __future__ import annotations

from fastapi import APIRouter, status

from order_service.auth import service
from order_service.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyOut
from order_service.http.context import AdminContext, PageDep
from order_service.http.problems import responses
from order_service.http.routing import TransactionalRoute
from order_service.kit import errors

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"], route_class=TransactionalRoute)

AUTH = (errors.Unauthenticated, errors.Forbidden)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=responses(*AUTH, errors.IdempotencyKeyReused, errors.IdempotencyRequestInProgress),
    description="""
Issues a key with a role: `storefront` for storefront backends (customer policy applies to
what they do), `ops` for operations people and the services that call back (payments,
shipping), `admin` for key and webhook management. The key is in the response **once**;
only its SHA-256 hash is stored, so a lost key is revoked and replaced, never recovered. A
retry with the same `Idempotency-Key` answers 201 with the same key record and `key: null`.
Roles: admin.
""",
)
async def create_api_key(body: ApiKeyCreate, ctx: AdminContext) -> ApiKeyCreated:
    """Issue an API key"""
    row, secret = await service.create_key(ctx.session, name=body.name, role=body.role)
    return ApiKeyCreated(**ApiKeyOut.model_validate(row).model_dump(), key=secret)


@router.get(
    "",
    response_model=ApiKeyList,
    responses=responses(*AUTH, errors.InvalidCursor),
    description="All keys, newest first, revoked ones included (with `revoked_at`). "
    "Secrets are never shown again. Roles: admin.",
)
async def list_api_keys(page: PageDep, ctx: AdminContext) -> ApiKeyList:
    """List API keys"""
    result = await service.list_keys(ctx, page=page)
    return ApiKeyList(
        data=[ApiKeyOut.model_validate(k) for k in result.items], next_cursor=result.next_cursor
    )


@router.delete(
    "/{key_id}",
    response_model=ApiKeyOut,
    responses=responses(*AUTH, errors.ApiKeyNotFound),
    description="Revokes a key at once: its next request is 401. Revoking a revoked key "
    "changes nothing. The key stays listed with `revoked_at`. Roles: admin.",
)
async def revoke_api_key(key_id: str, ctx: AdminContext) -> ApiKeyOut:
    """Revoke an API key"""
    return ApiKeyOut.model_validate(await service.revoke_key(ctx, key_id))
