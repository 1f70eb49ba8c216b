"""Device secrets: generated once, shown once, kept encrypted at rest.

HMAC-SHA256 verification needs the secret itself, so a one-way hash cannot verify a signature.
We keep the secret encrypted (Fernet) under a key that lives in the environment, never in the
database, plus a SHA-256 fingerprint for display and lookup: a stolen database dump alone
cannot forge a batch.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class CredentialError(Exception):
    pass


def generate_secret() -> str:
    return secrets.token_urlsafe(32)


def fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _fernet() -> Fernet:
    configured = settings.JUNCTION_CREDENTIALS_KEY
    if configured:
        return Fernet(configured.encode())
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"junction device credentials"
    ).derive(settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken as exc:
        raise CredentialError(
            "a device secret cannot be decrypted: JUNCTION_CREDENTIALS_KEY (or the secret key it "
            "defaults to) changed since the device was registered"
        ) from exc
