"""Bearer authentication and role checks: every route declares the role it needs.

Tokens are HS256 JWTs signed with `jwt_secret` (claims `sub`, `role`, `exp`) or static API keys
mapped to roles in settings. Roles are ordered: viewer < operator < editor < admin.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from api.deps import StateDep
from journey.config import Settings

log = logging.getLogger(__name__)
ALGORITHM = "HS256"


class Role(IntEnum):
    viewer = 1
    operator = 2  # start and cancel runs, deliver events
    editor = 3  # definitions, triggers, segments
    admin = 4  # audit log, tokens


class Principal(BaseModel):
    subject: str
    role: Role
    token_kind: str  # "jwt", "api_key" or "anonymous" (auth disabled)


class AuthError(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(status.HTTP_401_UNAUTHORIZED, detail, {"WWW-Authenticate": "Bearer"})


def _secret(settings: Settings) -> str:
    if settings.jwt_secret is None:
        raise RuntimeError("JOURNEY_JWT_SECRET is not set")
    return settings.jwt_secret.get_secret_value()


def create_token(
    settings: Settings, *, subject: str, role: Role, ttl: timedelta | None = None
) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "role": role.name,
        "iat": now,
        "exp": now + (ttl or timedelta(minutes=settings.jwt_ttl_minutes)),
    }
    return jwt.encode(claims, _secret(settings), algorithm=ALGORITHM)


def principal_for(settings: Settings, token: str) -> Principal:
    """Who a bearer token belongs to; AuthError for anything not valid."""
    if token in settings.api_keys:
        role_name = settings.api_keys[token]
        if role_name not in Role.__members__:
            raise AuthError("API key is mapped to an unknown role")
        return Principal(
            subject=f"api-key:{token[:4]}…", role=Role[role_name], token_kind="api_key"
        )
    if settings.jwt_secret is None:
        raise AuthError("invalid token")
    try:
        claims = jwt.decode(
            token, _secret(settings), algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("token expired") from exc
    except jwt.PyJWTError as exc:
        raise AuthError("invalid token") from exc
    role_claim = claims.get("role")
    if not isinstance(role_claim, str) or role_claim not in Role.__members__:
        raise AuthError("token has no valid role claim")
    return Principal(subject=str(claims["sub"]), role=Role[role_claim], token_kind="jwt")


_bearer = HTTPBearer(auto_error=False, description="A JWT or an API key")


def current_principal(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if state.settings.auth_disabled:
        principal = Principal(subject="anonymous", role=Role.admin, token_kind="anonymous")
    elif credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthError("missing bearer token")
    else:
        principal = principal_for(state.settings, credentials.credentials)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_role(role: Role) -> Any:
    """A route dependency: 401 without a valid token, 403 below `role`."""

    def check(principal: PrincipalDep) -> Principal:
        if principal.role < role:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs the {role.name} role; the token has {principal.role.name}",
            )
        return principal

    return Depends(check)
