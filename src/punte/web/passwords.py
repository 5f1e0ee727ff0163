"""Password hashing for dashboard users: argon2id (argon2-cffi) with OWASP's parameters.

m=19 MiB, t=2, p=1 (OWASP Password Storage Cheat Sheet): about 50 ms a log-in on one core, and
modest enough in memory that parallel log-ins do not starve a small server. The parameters are in
each stored hash; a hash made with other parameters is redone at the next successful log-in.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Verified when the e-mail is unknown, so that a wrong e-mail costs as long as a wrong password.
_DUMMY = _hasher.hash("punte-no-such-user")

MIN_LENGTH = 10
MAX_LENGTH = 200


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``; ``stored`` None still spends the hashing time."""
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """The stored hash was made with weaker parameters than today's (rehash it at the next log-in)."""
    try:
        return _hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return True
