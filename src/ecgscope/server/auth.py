"""API tokens, users and teams.

A token is 32 random bytes shown once to its owner (``ecg_…``); the database keeps only its
sha256 (a high-entropy secret needs no slow hash).  Requests send ``Authorization: Bearer <token>``.
Roles: ``admin`` manages users and tokens, ``member`` uploads, analyzes and deletes, ``viewer``
only reads.  Records are visible to their uploader and the uploader's team, nobody else.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ecgscope.errors import ECGScopeError
from ecgscope.server.db import ROLES, ApiToken, Team, User, utcnow

TOKEN_PREFIX = "ecg_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, detached from any session."""

    user_id: int
    username: str
    role: str
    team_id: int | None
    team: str | None

    @property
    def can_write(self) -> bool:
        return self.role in ("admin", "member")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def to_dict(self) -> dict:
        return {"id": self.user_id, "username": self.username, "role": self.role, "team": self.team}


def principal_of(user: User) -> Principal:
    return Principal(user.id, user.username, user.role, user.team_id, user.team.name if user.team else None)


def get_or_create_team(session: Session, name: str) -> Team:
    team = session.scalar(select(Team).where(Team.name == name))
    if team is None:
        team = Team(name=name)
        session.add(team)
        session.flush()
    return team


def create_user(session: Session, username: str, *, role: str = "member", team: str | None = None) -> User:
    """A new user (the team is created on first use)."""
    username = username.strip()
    if not username or len(username) > 100:
        raise ECGScopeError("username must be 1-100 characters", code="bad_username")
    if role not in ROLES:
        raise ECGScopeError(f"unknown role {role!r}; roles are {', '.join(ROLES)}", code="bad_role")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ECGScopeError(f"user {username!r} already exists", code="user_exists")
    user = User(username=username, role=role, team_id=get_or_create_team(session, team).id if team else None)
    session.add(user)
    session.flush()
    session.refresh(user)
    return user


def issue_token(session: Session, user: User, name: str = "") -> str:
    """A new token for ``user``; the plain token is returned once and not stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=hash_token(token), prefix=token[:10], name=name))
    session.flush()
    return token


def authenticate(session: Session, token: str, touch_every: timedelta = timedelta(0)) -> Principal | None:
    """The principal owning ``token``, or None for an unknown, revoked or inactive one."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked or not row.user.active:
        return None
    now = utcnow()
    last = row.last_used_at
    if last is not None and last.tzinfo is None:  # SQLite returns naive datetimes
        last = last.replace(tzinfo=UTC)
    if last is None or now - last >= touch_every:
        row.last_used_at = now
    return principal_of(row.user)


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def bootstrap_admin(session: Session) -> str | None:
    """On an empty database, create user ``admin`` and return its first token (else None)."""
    if count_users(session) > 0:
        return None
    admin = create_user(session, "admin", role="admin", team="default")
    return issue_token(session, admin, name="bootstrap")
