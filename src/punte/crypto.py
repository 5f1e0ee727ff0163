"""Secrets at rest (Fernet, key derived from the installation secret) and API token hashing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet


def _derive(secret_key: str, purpose: bytes) -> bytes:
    return hmac.new(secret_key.encode(), purpose, hashlib.sha256).digest()


class SecretBox:
    """Encrypts secrets (ANAF tokens, provider secrets, SMTP passwords) before they are stored."""

    def __init__(self, secret_key: str) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret_key, b"punte-secrets-v1")))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        return self._fernet.decrypt(token.encode()).decode()


def new_api_token() -> str:
    """A new API token: 32 random bytes, hex (SmartBill tokens are hex too)."""
    return secrets.token_hex(32)


def hash_token(token: str, secret_key: str) -> str:
    """Tokens are random and long, so a keyed SHA-256 is enough; the key makes a leaked table useless."""
    return hmac.new(_derive(secret_key, b"punte-api-tokens-v1"), token.encode(), hashlib.sha256).hexdigest()
