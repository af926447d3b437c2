"""Bearer authentication and role checks: every route declares the role it needs.

Tokens are HS256 JWTs signed with `jwt_secret` (claims `sub`, `role`, `exp`) or static API keys
mapped to roles in settings. Roles are ordered: viewer < operator < editor < admin.
Authenticating also charges the caller's rate limit (api/ratelimit.py), so every protected route
is limited per token without each router having to remember it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.requests import HTTPConnection
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from api.deps import StateDep
from api.ratelimit import enforce_rate_limit
from journey.core.config import Settings

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


class MissingSecret(RuntimeError):
    """Raised by `create_token` when no JWT secret is configured (the CLI reports it)."""


def _secret(settings: Settings) -> str:
    if settings.jwt_secret is None:
        raise MissingSecret("JOURNEY_JWT_SECRET is not set")
    return settings.jwt_secret.get_secret_value()


class TokenTooLong(ValueError):
    """A lifetime beyond `jwt_max_ttl_minutes`: the gateway would refuse such a token."""


def max_token_lifetime(settings: Settings) -> timedelta:
    return timedelta(minutes=settings.jwt_max_ttl_minutes)


def create_token(
    settings: Settings, *, subject: str, role: Role, ttl: timedelta | None = None
) -> str:
    now = datetime.now(UTC)
    lifetime = timedelta(minutes=settings.jwt_ttl_minutes) if ttl is None else ttl
    if lifetime > max_token_lifetime(settings):
        raise TokenTooLong(
            f"a lifetime of {lifetime} exceeds the maximum of {settings.jwt_max_ttl_minutes} "
            "minutes (JOURNEY_JWT_MAX_TTL_MINUTES); use an API key for a long-lived credential"
        )
    claims = {"sub": subject, "role": role.name, "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, _secret(settings), algorithm=ALGORITHM)


def _api_key_principal(settings: Settings, token: str) -> Principal | None:
    """The principal of a configured API key, compared in constant time.

    The subject is a fingerprint of the key, never a prefix of it: subjects end up in the audit
    log and key the rate limit, so they must neither leak the key nor collide between keys.
    """
    for key, role_name in settings.api_keys.items():
        if hmac.compare_digest(key.encode(), token.encode()):
            if role_name not in Role.__members__:
                raise AuthError("API key is mapped to an unknown role")
            fingerprint = hashlib.sha256(key.encode()).hexdigest()[:12]
            return Principal(
                subject=f"api-key:{fingerprint}", role=Role[role_name], token_kind="api_key"
            )
    return None


def principal_for(settings: Settings, token: str) -> Principal:
    """Who a bearer token belongs to; AuthError for anything not valid."""
    principal = _api_key_principal(settings, token)
    if principal is not None:
        return principal
    if settings.jwt_secret is None:
        raise AuthError("invalid token")
    try:
        claims = jwt.decode(
            token,
            _secret(settings),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("token expired") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(f"token has no {exc.claim!r} claim") from exc
    except jwt.PyJWTError as exc:
        raise AuthError("invalid token") from exc
    _check_lifetime(settings, claims)
    role_claim = claims.get("role")
    if not isinstance(role_claim, str) or role_claim not in Role.__members__:
        raise AuthError("token has no valid role claim")
    return Principal(subject=str(claims["sub"]), role=Role[role_claim], token_kind="jwt")


def _check_lifetime(settings: Settings, claims: dict[str, Any]) -> None:
    """A signed token is only as safe as its lifetime: one valid for years cannot be revoked
    by waiting. PyJWT has checked that both claims convert with int()."""
    lifetime_seconds = int(claims["exp"]) - int(claims["iat"])  # no timedelta: may overflow
    if lifetime_seconds > max_token_lifetime(settings).total_seconds():
        raise AuthError(
            f"token lifetime (exp - iat) exceeds the maximum of "
            f"{settings.jwt_max_ttl_minutes} minutes"
        )


def log_auth_warnings(settings: Settings) -> None:
    """Called at every start, so an unprotected or unusable gateway never goes unnoticed."""
    if settings.auth_disabled:
        log.warning(
            "authentication is DISABLED (JOURNEY_AUTH_DISABLED=true): every request is "
            "treated as admin; never run like this outside a laptop"
        )
    elif settings.jwt_secret is None and not settings.api_keys:
        log.warning(
            "neither JOURNEY_JWT_SECRET nor JOURNEY_API_KEYS is set: every protected route "
            "will answer 401 (only /health and the docs are usable)"
        )


_bearer = HTTPBearer(auto_error=False, description="A JWT or an API key")


def client_address(connection: HTTPConnection) -> str:
    return f"ip:{connection.client.host}" if connection.client else "ip:unknown"


def authenticate(
    connection: HTTPConnection,
    settings: Settings,
    token: str | None,
    *,
    missing: str = "missing bearer token",
) -> Principal:
    """The caller of a bearer `token` (None: none was sent; refused with `missing`), charged to
    the rate limit: a valid token to its subject, a missing or bad one to the client address,
    which slows down key guessing. Requests (`current_principal`) and WebSockets
    (api/routes/live.py) both come here."""
    if settings.auth_disabled:
        enforce_rate_limit(connection, settings, client_address(connection))
        return Principal(subject="anonymous", role=Role.admin, token_kind="anonymous")
    try:
        if not token:
            raise AuthError(missing)
        principal = principal_for(settings, token)
    except AuthError:
        enforce_rate_limit(connection, settings, client_address(connection))
        raise
    enforce_rate_limit(connection, settings, principal.subject)
    return principal


async def current_principal(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Async on purpose: no I/O happens here, so it needs no worker thread per request."""
    token = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        token = credentials.credentials
    principal = authenticate(request, state.settings, token)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require_role(role: Role) -> Any:
    """A route dependency: 401 without a valid token, 403 below `role`."""

    async def check(principal: PrincipalDep) -> Principal:
        if principal.role < role:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs the {role.name} role; the token has {principal.role.name}",
            )
        return principal

    return Depends(check)


# The role a route needs, as a dependency that also gives the caller.
Viewer = Annotated[Principal, require_role(Role.viewer)]
Operator = Annotated[Principal, require_role(Role.operator)]
Editor = Annotated[Principal, require_role(Role.editor)]
Admin = Annotated[Principal, require_role(Role.admin)]
