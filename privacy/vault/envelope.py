"""Envelope encryption (NIST SP 800-57 key hierarchy): a master key-encryption key wraps
one random 256-bit data key per subject; fields are AES-256-GCM under the data key with
(subject, field) bound as associated data, so a ciphertext moved to another row fails."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE = 12


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    return AESGCM(key).decrypt(sealed[:NONCE], sealed[NONCE:], aad)


def wrap(master: bytes, data_key: bytes, subject_id: int) -> bytes:
    return seal(master, data_key, f"subject-key:{subject_id}".encode())


def unwrap(master: bytes, wrapped: bytes, subject_id: int) -> bytes:
    return open_sealed(master, wrapped, f"subject-key:{subject_id}".encode())


def field_aad(subject_id: int, field: str) -> bytes:
    return f"pii:{subject_id}:{field}".encode()


def record_aad(subject_id: int, label: str) -> bytes:
    """A sealed record (a request's payload) is bound to its subject and its label, and can
    never pass for a field value: a different prefix from `field_aad`."""
    return f"record:{subject_id}:{label}".encode()
