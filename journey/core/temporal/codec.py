"""AES-GCM payload encryption, so user data in Temporal history is ciphertext.

Every payload (the pydantic converter's JSON and its metadata, serialised whole) is sealed with
AES-GCM under the current key. The key id travels in the payload's metadata, which makes
rotation a settings change: new payloads use `payload_key_id`, older ones open with whichever
listed key they name. The key id is also the associated data, so a payload relabelled with
another key id fails authentication instead of decrypting to garbage. Payloads that are not
encrypted (history from before encryption was turned on) pass through decoding unchanged.

The same codec serves the worker, every client (journey/core/temporal/client.py) and the codec
endpoint the Temporal UI decodes with (api/routes/codec.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from journey.core.config import Settings

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12  # the size GCM is specified for; random per payload
TAG_BYTES = 16


class PayloadDecryptionError(ValueError):
    """An encrypted payload that cannot be opened; the message says why, never the data."""


class UnknownPayloadKey(PayloadDecryptionError):
    """The payload names a key id that is not configured."""


class AesGcmCodec(PayloadCodec):
    def __init__(self, keys: Mapping[str, bytes], current: str | None) -> None:
        if current is not None and current not in keys:
            raise ValueError(f"current key {current!r} is not among the keys")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.current = current

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.seal(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.open(payload) for payload in payloads]

    def seal(self, payload: Payload) -> Payload:
        """The payload encrypted under the current key (unchanged when there is none)."""
        if self.current is None:
            return payload
        key_id = self.current.encode()
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.current].encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(metadata={"encoding": ENCODING, KEY_ID: key_id}, data=nonce + sealed)

    def open(self, payload: Payload) -> Payload:
        """The original payload; PayloadDecryptionError when it cannot be trusted."""
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        raw_id = payload.metadata.get(KEY_ID)
        if raw_id is None:
            raise PayloadDecryptionError(f"encrypted payload has no {KEY_ID!r} metadata")
        key_id = raw_id.decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UnknownPayloadKey(
                f"payload was encrypted with key {key_id!r}, which is not configured "
                f"(JOURNEY_PAYLOAD_KEYS has {', '.join(map(repr, self._ciphers)) or 'no keys'})"
            )
        if len(payload.data) < NONCE_BYTES + TAG_BYTES:
            raise PayloadDecryptionError(f"encrypted payload under key {key_id!r} is truncated")
        nonce, sealed = payload.data[:NONCE_BYTES], payload.data[NONCE_BYTES:]
        try:
            plain = cipher.decrypt(nonce, sealed, raw_id)
        except InvalidTag:
            raise PayloadDecryptionError(
                f"payload failed authentication under key {key_id!r}: it was altered, or "
                "encrypted with a different key under the same id"
            ) from None
        return Payload.FromString(plain)


def payload_codec(settings: Settings) -> AesGcmCodec | None:
    """The codec the settings ask for: None without keys (payloads stay plain JSON)."""
    if not settings.payload_keys:
        return None
    return AesGcmCodec(settings.payload_key_material, settings.payload_key_id)
