"""Diffie-Hellman private set intersection (Meadows 1986; Huberman, Franklin and Hogg 1999),
over X25519 from `cryptography` (OpenSSL). Pure: keys, points and arrays in and out.

Each party hashes its normalized join keys to curve points, H(x), and raises them to its own
secret scalar: a = k_A * H(x). The other party raises what it receives once more. Scalar
multiplication on the x-line commutes, k_A * (k_B * H(x)) = k_B * (k_A * H(x)), so a key both
hold gives the same doubly blinded point on both sides, and nothing else can be compared: under
the decisional Diffie-Hellman assumption a singly blinded point looks random to whoever lacks
the scalar. The relay (the coordinator) sees only blinded points.

Why this and not a PSI package (decided for issue 26): `openmined-psi` 2.0.6 works here but its
metadata pins `protobuf==6.30.2`, which conflicts with the lock's protobuf 6.33.6 (Flower's
gRPC health checking), so `pip install -c constraints.txt -e .` and `pip check` would break;
`apsi` (Microsoft APSI) is unbalanced PSI, a small client set against a large server set,
not two brand lists of similar size; PyNaCl's
libsodium has a proper prime-order hash-to-group (`crypto_core_ed25519_from_uniform`) but its
scalar multiplication measured 3x slower than OpenSSL's X25519 here. The group operation comes
from a maintained library (`cryptography`, already a dependency); only the protocol's three
lines (hash, blind, compare) are ours.

Hash to the x-line: H(x) = SHA-512/256("comity/psi/v1" || x) with bit 255 cleared, read as a
u-coordinate. Every u lies on Curve25519 or on its twist; both have a large prime-order
subgroup (the curve is twist-secure, Bernstein 2006) and X25519's clamped scalars are multiples
of the cofactor, so every result lands in a prime-order subgroup. A peer that sends a low-order
point makes X25519 answer all zeros, which `cryptography` refuses: that is a protocol error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import phonenumbers
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from compliance.errors import ComityError

DOMAIN = b"comity/psi/v1\x00"
POINT_BYTES = 32
CHUNK = 4096
Progress = Callable[[int], None]


class PsiError(ComityError):
    """A blinded value that is no point a peer could have made honestly."""

    status_code = 502


def normalize_phone(raw: object, region: str) -> str | None:
    """E.164 (`+8613812345678`) of a phone number as a brand stores it, read with the brand's
    default region; None for a number that is not valid. Both brands hash the same text."""
    if raw is None or (isinstance(raw, float) and raw != raw):
        return None
    try:
        num = phonenumbers.parse(str(raw), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def hash_to_point(key: str) -> bytes:
    """The u-coordinate a normalized join key is blinded from (a random oracle onto the
    x-line of Curve25519 and its twist)."""
    u = bytearray(hashlib.new("sha512_256", DOMAIN + key.encode("utf-8")).digest())
    u[31] &= 0x7F
    return bytes(u)


class Blinder:
    """One party's secret scalar for one run; it never leaves the party."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) != POINT_BYTES:
            raise ValueError("a PSI secret is 32 bytes")
        self._key = X25519PrivateKey.from_private_bytes(secret)

    @classmethod
    def derive(cls, party_key: bytes, run_id: str) -> Blinder:
        """The run's scalar from the party's long-term secret (HKDF-SHA256, RFC 5869), so
        every round of one run uses the same scalar without keeping it between messages,
        and two runs never share one."""
        okm = HKDF(algorithm=hashes.SHA256(), length=POINT_BYTES, salt=None,
                   info=b"comity psi scalar\x00" + run_id.encode()).derive(party_key)
        return cls(okm)

    def blind_one(self, point: bytes) -> bytes:
        try:
            return self._key.exchange(X25519PublicKey.from_public_bytes(point))
        except ValueError as exc:  # an all-zero result: a low-order point
            raise PsiError("a blinded value is a low-order point (not an honest peer's)"
                           ) from exc

    def blind(self, points: Iterable[bytes], progress: Progress | None = None) -> np.ndarray:
        """Every point times the scalar, in order, as an (n, 32) uint8 array."""
        out = bytearray()
        n = 0
        for p in points:
            out += self.blind_one(p)
            n += 1
            if progress is not None and n % CHUNK == 0:
                progress(CHUNK)
        if progress is not None and n % CHUNK:
            progress(n % CHUNK)
        return to_array(bytes(out))

    def blind_keys(self, keys: Iterable[str], progress: Progress | None = None) -> np.ndarray:
        return self.blind((hash_to_point(k) for k in keys), progress)


def to_array(raw: bytes) -> np.ndarray:
    if len(raw) % POINT_BYTES:
        raise PsiError(f"blinded values come in {POINT_BYTES}-byte points")
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, POINT_BYTES).copy()


def points(arr: np.ndarray) -> Iterator[bytes]:
    """The rows of an (n, 32) uint8 array as points; any other shape is refused."""
    if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] != POINT_BYTES:
        raise PsiError(f"blinded values must be an (n, {POINT_BYTES}) uint8 array, "
                       f"got {arr.dtype} {list(arr.shape)}")
    raw = np.ascontiguousarray(arr).tobytes()
    return (raw[i:i + POINT_BYTES] for i in range(0, len(raw), POINT_BYTES))


def shuffled(arr: np.ndarray) -> np.ndarray:
    """Rows in lexicographic order of the blinded values: a random-looking order that says
    nothing about the order the party holds its keys in."""
    view = np.ascontiguousarray(arr).view(f"V{POINT_BYTES}").ravel()
    return arr[np.argsort(view, kind="stable")]


def _void(arr: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(arr).view(f"V{POINT_BYTES}").ravel()


def intersection_size(a: np.ndarray, b: np.ndarray) -> int:
    """How many distinct doubly blinded points both arrays hold."""
    return int(np.intersect1d(_void(a), _void(b)).size)


def matches(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Which rows of `mine` (in its order) are among `theirs`."""
    return np.isin(_void(mine), _void(theirs))


def chunks(keys: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    for i in range(0, len(keys), size):
        yield keys[i:i + size]
