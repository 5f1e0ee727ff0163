"""Talking to ANAF's RO e-Factura: the API client, OAuth, per-message limits and the ZIP archive."""

from __future__ import annotations

from .answers import AnafFinding, AnafZip, Message, MessageState, UploadResult, ValidationResult, read_zip, sniff
from .client import AnafClient, CallBudget
from .environments import ENVIRONMENTS, Environment, environment, realm_of
from .errors import (
    AnafDuplicateUpload,
    AnafError,
    AnafLimitReached,
    AnafPermanentError,
    AnafTransientError,
    AnafUnauthorized,
    AnafUnknownOutcome,
    AnafUploadRejected,
)
from .oauth import OAuthClient, OAuthError, OAuthInvalidGrant, OAuthTransientError, TokenSet

__all__ = [
    "ENVIRONMENTS",
    "AnafClient",
    "AnafDuplicateUpload",
    "AnafError",
    "AnafFinding",
    "AnafLimitReached",
    "AnafPermanentError",
    "AnafTransientError",
    "AnafUnauthorized",
    "AnafUnknownOutcome",
    "AnafUploadRejected",
    "AnafZip",
    "CallBudget",
    "Environment",
    "Message",
    "MessageState",
    "OAuthClient",
    "OAuthError",
    "OAuthInvalidGrant",
    "OAuthTransientError",
    "TokenSet",
    "UploadResult",
    "ValidationResult",
    "environment",
    "read_zip",
    "realm_of",
    "sniff",
]
