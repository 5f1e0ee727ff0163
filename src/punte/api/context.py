"""Request plumbing shared by the routes: auth, JSON bodies, errors, idempotent writes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from punte.domain.errors import DomainError
from punte.domain.identifiers import cif_digits
from punte.services.companies import companies_for_token, get_company
from punte.store.db import Database
from punte.store.models import Company, IdempotencyKey

M = TypeVar("M", bound=BaseModel)


class ApiError(Exception):
    def __init__(self, status: int, text: str, shape: dict[str, Any] | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.shape = shape or {}


UNAUTHORIZED = "Autentificare esuata: utilizatorul sau tokenul sunt gresite, ori nu aveti drept pe aceasta firma."


@dataclass(frozen=True)
class Caller:
    email: str
    cifs: frozenset[str]


class AuthCache:
    """Short-lived cache of verified credentials so each call is not a database round trip."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._items: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> frozenset[str] | None:
        with self._lock:
            item = self._items.get(key)
            if item and item[0] > time.monotonic():
                return item[1]
            return None

    def put(self, key: str, cifs: frozenset[str]) -> None:
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[key] = (time.monotonic() + self.ttl, cifs)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    email, sep, token = decoded.partition(":")
    if not sep:
        return None
    return email, token


def authenticate(request: Request) -> Caller:
    state = request.app.state
    creds = basic_credentials(request)
    if creds is None:
        raise ApiError(401, UNAUTHORIZED)
    email, token = creds
    key = hashlib.sha256(f"{email}\0{token}".encode()).hexdigest()
    cifs = state.auth_cache.get(key)
    if cifs is None:
        db: Database = state.db
        with db.session() as session:
            cifs = frozenset(companies_for_token(session, email, token, secret_key=state.secret_key))
        if cifs:
            state.auth_cache.put(key, cifs)
    if not cifs:
        raise ApiError(401, UNAUTHORIZED)
    return Caller(email=email.strip().lower(), cifs=cifs)


def authorize(caller: Caller, cif: str | None, missing_text: str, shape: dict[str, Any] | None = None) -> str:
    digits = cif_digits(cif or "")
    if not digits:
        raise ApiError(400, missing_text, shape)
    if digits not in caller.cifs:
        raise ApiError(401, UNAUTHORIZED, shape)
    return digits


async def json_body(request: Request, model: type[M], shape: dict[str, Any] | None = None) -> tuple[M, bytes]:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise ApiError(415, "Tip de continut nesuportat: trimiteti JSON cu Content-Type: application/json.", shape)
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"Continutul cererii nu este JSON valid: {exc}", shape) from exc
    if not isinstance(data, dict):
        raise ApiError(400, "Continutul cererii trebuie sa fie un obiect JSON.", shape)
    try:
        return model.model_validate(data), raw
    except ValidationError as exc:
        raise ApiError(400, describe_validation(exc), shape) from exc


def describe_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ""
        for piece in err["loc"]:
            loc += f"[{piece}]" if isinstance(piece, int) else (f".{piece}" if loc else str(piece))
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return "Valoare invalida pentru " + "; ".join(parts)


def error_response(status: int, text: str, shape: dict[str, Any] | None = None) -> JSONResponse:
    body = {"errorText": text, "message": "", **(shape or {})}
    body["errorText"] = text
    return JSONResponse(body, status_code=status)


def run_write(
    request: Request,
    caller: Caller,
    cif: str,
    raw: bytes,
    op: Callable[[Session, Company], dict[str, Any]],
    shape: dict[str, Any],
) -> JSONResponse:
    """Run a write in one transaction; with an ``Idempotency-Key`` the first answer is kept and replayed."""
    db: Database = request.app.state.db
    key = request.headers.get("idempotency-key")
    scope = f"{caller.email}|{cif}|{request.method}|{request.url.path}"
    digest = hashlib.sha256(raw).hexdigest()
    if key is not None:
        key = key.strip()
        if not key or len(key) > 200:
            raise ApiError(400, "Idempotency-Key trebuie sa aiba intre 1 si 200 de caractere.", shape)
        replay = _stored_answer(db, scope, key, digest, shape)
        if replay is not None:
            return replay
    try:
        with db.session(write=True) as session:
            company = get_company(session, cif)
            answer = op(session, company)
            if key is not None:
                session.add(IdempotencyKey(scope=scope, key=key, request_hash=digest, status_code=200, response=answer))
                session.flush()
    except IntegrityError:
        if key is not None:
            replay = _stored_answer(db, scope, key, digest, shape)
            if replay is not None:
                return replay
        raise
    except DomainError as exc:
        raise ApiError(400, exc.text, shape) from exc
    response = JSONResponse(answer)
    if key is not None:
        response.headers["Idempotency-Replayed"] = "false"
    return response


def _stored_answer(db: Database, scope: str, key: str, digest: str, shape: dict[str, Any]) -> JSONResponse | None:
    with db.session() as session:
        row = session.scalar(select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key))
        if row is None:
            return None
        if row.request_hash != digest:
            raise ApiError(
                400, "Idempotency-Key a fost deja folosit pentru o cerere cu alt continut.", shape
            )
        response = JSONResponse(row.response, status_code=row.status_code)
        response.headers["Idempotency-Replayed"] = "true"
        return response


def run_read(request: Request, cif: str, op: Callable[[Session, Company], Any], shape: dict[str, Any]) -> Any:
    db: Database = request.app.state.db
    try:
        with db.session() as session:
            company = get_company(session, cif)
            return op(session, company)
    except DomainError as exc:
        raise ApiError(400, exc.text, shape) from exc
