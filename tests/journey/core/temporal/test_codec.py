"""The AES-GCM payload codec: ciphertext out, the same payload back, rotation, and refusals.

End to end (Temporal, the worker, the codec endpoint): tests/api/test_payload_encryption.py.
"""

from __future__ import annotations

import base64
import json
import os

import pytest
from pydantic import SecretStr, ValidationError
from temporalio.api.common.v1 import Payload

from journey.contracts.actions import UserSnapshot
from journey.core.config import Settings
from journey.core.temporal.client import DATA_CONVERTER, data_converter
from journey.core.temporal.codec import AesGcmCodec, PayloadDecryptionError, UnknownPayloadKey

EMAIL = "ada.lovelace@example.com"
OLD, NEW = os.urandom(32), os.urandom(16)


def plain(email: str = EMAIL) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({"email": email}).encode())


def keyed(**keys: bytes) -> dict[str, SecretStr]:
    return {key_id: SecretStr(base64.b64encode(key).decode()) for key_id, key in keys.items()}


async def test_a_payload_is_ciphertext_and_decodes_to_the_same_payload() -> None:
    codec = AesGcmCodec({"k1": OLD}, "k1")
    first, second = await codec.encode([plain(), plain()])
    assert EMAIL.encode() not in first.SerializeToString()
    assert first.metadata["encoding"] == b"binary/encrypted"
    assert first.metadata["encryption-key-id"] == b"k1"
    assert first.data != second.data  # a fresh nonce per payload
    assert await codec.decode([first, second]) == [plain(), plain()]


async def test_rotation_encrypts_with_the_current_key_and_decrypts_with_any_listed() -> None:
    [old] = await AesGcmCodec({"k1": OLD}, "k1").encode([plain()])
    rotated = AesGcmCodec({"k1": OLD, "k2": NEW}, "k2")
    [new] = await rotated.encode([plain("grace@example.com")])
    assert new.metadata["encryption-key-id"] == b"k2"
    assert await rotated.decode([old, new]) == [plain(), plain("grace@example.com")]
    with pytest.raises(UnknownPayloadKey, match="key 'k1', which is not configured"):
        await AesGcmCodec({"k2": NEW}, "k2").decode([old])


async def test_altered_relabelled_or_truncated_ciphertext_is_refused_not_garbled() -> None:
    codec = AesGcmCodec({"k1": OLD, "k2": NEW}, "k1")
    [sealed] = await codec.encode([plain()])
    flipped = bytearray(sealed.data)
    flipped[20] ^= 0x01
    altered = Payload(metadata=sealed.metadata, data=bytes(flipped))
    relabelled = Payload(metadata={**sealed.metadata, "encryption-key-id": b"k2"}, data=sealed.data)
    truncated = Payload(metadata=sealed.metadata, data=sealed.data[:10])
    for bad in (altered, relabelled):
        with pytest.raises(PayloadDecryptionError, match="failed authentication"):
            await codec.decode([bad])
    with pytest.raises(PayloadDecryptionError, match="truncated"):
        await codec.decode([truncated])


async def test_plain_payloads_pass_and_without_a_current_key_nothing_is_encrypted() -> None:
    decrypt_only = AesGcmCodec({"k1": OLD}, None)
    assert await decrypt_only.encode([plain()]) == [plain()]
    [sealed] = await AesGcmCodec({"k1": OLD}, "k1").encode([plain()])
    assert await decrypt_only.decode([plain(), sealed]) == [plain(), plain()]


async def test_the_data_converter_follows_the_settings() -> None:
    assert data_converter(Settings(_env_file=None)) is DATA_CONVERTER
    settings = Settings(_env_file=None, payload_keys=keyed(k1=OLD), payload_key_id="k1")
    converter = data_converter(settings)
    profile = UserSnapshot(
        id="ada", email=EMAIL, current_lifecycle_stage="Acquisition", attributes={"plan": "pro"}
    )
    [payload] = await converter.encode([profile])
    assert EMAIL.encode() not in payload.SerializeToString()
    assert await converter.decode([payload], [UserSnapshot]) == [profile]
    # The plain converter cannot read it: encryption really is in the converter.
    with pytest.raises(Exception):  # noqa: B017 - whatever the pydantic converter raises
        await DATA_CONVERTER.decode([payload], [UserSnapshot])


def test_bad_key_settings_name_the_key_id_and_never_the_key() -> None:
    with pytest.raises(ValidationError, match="'k9' is not one of the payload_keys"):
        Settings(_env_file=None, payload_keys=keyed(k1=OLD), payload_key_id="k9")
    short = Settings(_env_file=None, payload_keys=keyed(k1=b"x" * 10), payload_key_id="k1")
    with pytest.raises(ValueError, match="'k1' is 10 bytes") as short_error:
        data_converter(short)
    assert base64.b64encode(b"x" * 10).decode() not in str(short_error.value)
    garbled = Settings(_env_file=None, payload_keys={"k1": SecretStr("not base64!")})
    with pytest.raises(ValueError, match="'k1' is not valid base64") as garbled_error:
        data_converter(garbled)
    assert "not base64!" not in str(garbled_error.value)
