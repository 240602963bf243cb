"""``/api/v1/me`` and the administrator's ``/api/v1/admin``: users, tokens, audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy import select

from ecgscope.errors import MissingInputError
from ecgscope.server.auth import create_user, issue_token, principal_of
from ecgscope.server.db import AuditEntry, User
from ecgscope.server.deps import Admin, Ctx, CurrentUser, DbSession
from ecgscope.server.schemas import AuditOut, ErrorResponse, NewUser, TokenOut, UserOut

router = APIRouter(prefix="/api/v1", tags=["users"])

_ERRORS = {401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}}


@router.get("/me", response_model=UserOut, responses={401: {"model": ErrorResponse}})
def me(principal: CurrentUser) -> dict:
    return principal.to_dict()


@router.post("/admin/users", response_model=TokenOut, status_code=status.HTTP_201_CREATED, responses=_ERRORS)
def add_user(ctx: Ctx, admin: Admin, body: NewUser) -> dict:
    """Create a user and its first token (shown once)."""
    with ctx.db.session() as s:
        user = create_user(s, body.username, role=body.role, team=body.team)
        token = issue_token(s, user, name="created by " + admin.username)
        out = principal_of(user).to_dict()
        s.add(AuditEntry(user_id=admin.user_id, action="create_user", detail={"user": out}))
    return {"user": out, "token": token}


@router.post("/admin/users/{username}/tokens", response_model=TokenOut, status_code=status.HTTP_201_CREATED,
             responses={**_ERRORS, 404: {"model": ErrorResponse}})
def add_token(ctx: Ctx, admin: Admin, username: str) -> dict:
    """Issue another token for a user (shown once)."""
    with ctx.db.session() as s:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise MissingInputError(f"no user {username!r}", source="users", code="user_not_found")
        token = issue_token(s, user, name="issued by " + admin.username)
        s.add(AuditEntry(user_id=admin.user_id, action="issue_token", detail={"user": username}))
        out = principal_of(user).to_dict()
    return {"user": out, "token": token}


@router.get("/admin/audit", response_model=list[AuditOut], responses=_ERRORS)
def audit(session: DbSession, admin: Admin, record_id: Annotated[str | None, Query()] = None,
          limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[AuditEntry]:
    """The newest audit entries of the administrator's team (optionally of one record, also once deleted)."""
    team_users = select(User.id).where(User.team_id == admin.team_id) if admin.team_id is not None else \
        select(User.id).where(User.id == admin.user_id)
    q = select(AuditEntry).where(AuditEntry.user_id.in_(team_users))
    if record_id:
        q = q.where(AuditEntry.record_id == record_id)
    return list(session.scalars(q.order_by(AuditEntry.id.desc()).limit(limit)).all())
