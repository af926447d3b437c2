"""The codec endpoint: Temporal's remote codec protocol over Journey's payload codec, so the
Temporal UI and CLI show encrypted payloads (journey/core/temporal/codec.py) decrypted to those
allowed.

`POST /api/codec/decode` and `POST /api/codec/encode` take and answer `{"payloads": [...]}` in
protobuf JSON (each metadata value and the data base64); the UI (`--ui-codec-endpoint`) and
the CLI (`--codec-endpoint`, `--codec-auth`) add `/decode` and `/encode` to the endpoint
themselves. Callers need `codec_role` (operator by default), proven by the usual bearer token,
which the UI forwards when told to pass the user's access token; `codec_trust_loopback` lets
tokenless callers on a loopback address through, for the dev stack's UI, which has no login.
`X-Namespace`, when sent, must be Journey's namespace: the keys belong to it. A payload that
does not decrypt (altered, or under a key that is not configured) fails the request with 422
and its path: garbage is never handed back.

Browsers call it from the UI's origin, so `/api/codec` answers CORS for `codec_cors_origins`
(default: the Temporal UI URL), credentials included; no other route does.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from google.protobuf import json_format
from pydantic import BaseModel, ConfigDict, Field
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload, Payloads

from api.auth import Principal, Role, current_principal
from api.deps import StateDep
from api.errors import problem_responses
from journey.core.temporal.codec import AesGcmCodec, PayloadDecryptionError

PREFIX = "/api/codec"
router = APIRouter(prefix=PREFIX, tags=["codec"])
_bearer = HTTPBearer(auto_error=False, description="A JWT or an API key")
Namespace = Annotated[str | None, Header(alias="X-Namespace", max_length=255)]


class CodecPayload(BaseModel):
    metadata: dict[str, str] = Field(default_factory=dict, description="values base64")
    data: str = Field(default="", description="base64")


class CodecBody(BaseModel):
    """Temporal's codec server body: payloads in protobuf JSON."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "e30="}]}
            ]
        }
    )

    payloads: list[CodecPayload]


def _is_loopback(request: Request) -> bool:
    try:
        return request.client is not None and ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


async def codec_caller(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """401 without a valid token, 403 below `codec_role`; see the module docstring."""
    settings = state.settings
    needed = Role[settings.codec_role]
    if credentials is None and settings.codec_trust_loopback and _is_loopback(request):
        principal = Principal(subject="loopback", role=needed, token_kind="anonymous")
        request.state.principal = principal
        return principal
    principal = await current_principal(request, state, credentials)
    if principal.role < needed:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"the codec needs the {needed.name} role; the token has {principal.role.name}",
        )
    return principal


CALLER = Depends(codec_caller)


def _codec(state: StateDep, namespace: str | None) -> AesGcmCodec:
    """The codec of the gateway's own Temporal client, the same one the workers use."""
    served = state.settings.temporal_namespace
    if namespace is not None and namespace != served:
        detail = f"this codec serves namespace {served!r}, not {namespace!r}"
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail)
    codec = state.temporal.data_converter.payload_codec
    if not isinstance(codec, AesGcmCodec):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "payload encryption is not configured (JOURNEY_PAYLOAD_KEYS)"
        )
    return codec


def _parse(body: CodecBody) -> list[Payload]:
    try:
        parsed = json_format.ParseDict(body.model_dump(), Payloads())
    except json_format.ParseError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"/payloads: {exc}") from exc
    return list(parsed.payloads)


def _answer(payloads: list[Payload]) -> CodecBody:
    return CodecBody.model_validate({"payloads": [json_format.MessageToDict(p) for p in payloads]})


RESPONSES = problem_responses(400, 401, 403, 404, 422)


@router.post("/decode", response_model=CodecBody, responses=RESPONSES, dependencies=[CALLER])
async def decode(body: CodecBody, state: StateDep, namespace: Namespace = None) -> CodecBody:
    """Decrypt payloads (plain ones come back unchanged)."""
    codec = _codec(state, namespace)
    decoded = []
    for index, payload in enumerate(_parse(body)):
        try:
            decoded.append(codec.open(payload))
        except PayloadDecryptionError as exc:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, f"/payloads/{index}: {exc}"
            ) from exc
    return _answer(decoded)


@router.post("/encode", response_model=CodecBody, responses=RESPONSES, dependencies=[CALLER])
async def encode(body: CodecBody, state: StateDep, namespace: Namespace = None) -> CodecBody:
    """Encrypt payloads under the current key (the UI's inputs to signals and starts)."""
    codec = _codec(state, namespace)
    return _answer([codec.seal(payload) for payload in _parse(body)])


class CodecCors:
    """Starlette's CORSMiddleware for /api/codec only. Built on the first request, because the
    allowed origins are settings, which exist once the lifespan has started."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors: CORSMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        if self.cors is None:
            settings = scope["app"].state.journey.settings
            self.cors = CORSMiddleware(
                self.app,
                allow_origins=settings.resolved_codec_cors_origins,
                allow_methods=["POST"],
                allow_headers=["Authorization", "Content-Type", "X-Namespace"],
                allow_credentials=True,
                max_age=600,
            )
        await self.cors(scope, receive, send)
