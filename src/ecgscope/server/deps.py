"""FastAPI dependencies: the server context, a database session and the authenticated caller."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from ecgscope.server.auth import Principal, authenticate
from ecgscope.server.context import ServerContext

_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer ecg_…`")
# last_used_at is refreshed at most this often: a write per request would serialise readers on SQLite
_TOUCH_EVERY = timedelta(minutes=1)


def get_ctx(request: Request) -> ServerContext:
    return request.app.state.ctx


Ctx = Annotated[ServerContext, Depends(get_ctx)]


def get_session(ctx: Ctx) -> Iterator[Session]:
    with ctx.db.sessionmaker() as s:
        yield s


DbSession = Annotated[Session, Depends(get_session)]


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail={"code": "unauthorized", "message": message,
                                                                "source": "auth"},
                         headers={"WWW-Authenticate": "Bearer"})


def get_principal(ctx: Ctx, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise _unauthorized("an API token is required: send 'Authorization: Bearer <token>'")
    with ctx.db.session() as s:
        principal = authenticate(s, creds.credentials, touch_every=_TOUCH_EVERY)
    if principal is None:
        raise _unauthorized("the API token is unknown or revoked")
    return principal


CurrentUser = Annotated[Principal, Depends(get_principal)]


def _forbidden(message: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail={"code": "forbidden", "message": message, "source": "auth"})


def get_writer(principal: CurrentUser) -> Principal:
    if not principal.can_write:
        raise _forbidden(f"user {principal.username!r} has role {principal.role!r}, which may only read records")
    return principal


def get_admin(principal: CurrentUser) -> Principal:
    if not principal.is_admin:
        raise _forbidden(f"user {principal.username!r} is not an administrator")
    return principal


Writer = Annotated[Principal, Depends(get_writer)]
Admin = Annotated[Principal, Depends(get_admin)]
