"""Request plumbing shared by the routes: auth, JSON bodies, errors, idempotent writes.

Everything a route does that blocks (authentication's database look-up, the database work, PDF rendering,
a Stripe call after a commit) runs in the thread pool, never on the event loop: there one slow request
would stall every other request of the process. Routes that need no body are plain ``def`` (FastAPI runs
them in the pool); routes that read the raw body are ``async`` only to await it, then hand the rest to
:func:`off_loop`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from punte.domain.errors import DomainError
from punte.domain.identifiers import cif_digits
from punte.services.companies import companies_for_token, get_company
from punte.store.db import Database
from punte.store.models import Company, IdempotencyKey

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")

log = logging.getLogger("punte.api")


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


class Turn:
    """A lock handed over in arrival order: the releasing thread passes it to the one that waited longest
    (a plain lock lets a newcomer take it first, and under steady load some writer then waits many turns)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._held = False
        self._waiting: deque[threading.Lock] = deque()

    def __enter__(self) -> None:
        with self._guard:
            if not self._held:
                self._held = True
                return
            mine = threading.Lock()
            mine.acquire()
            self._waiting.append(mine)
        mine.acquire()  # released by the holder, which hands the turn over (it stays held)

    def __exit__(self, *_exc: object) -> None:
        with self._guard:
            if self._waiting:
                self._waiting.popleft().release()
            else:
                self._held = False


class WriteTurns:
    """The API's writers take turns per process: one at a time on SQLite, one per company on PostgreSQL.

    They would wait anyway (SQLite has one write lock; a company's issues all lock its series and quota
    rows), but in the database's own queue (SQLite's lock polled every 2 ms, PostgreSQL's row locks) the
    order is not kept and the waiters share the GIL with the writer that holds the lock: with 8 clients on
    one series, p99 went from 150-250 ms to 450-700 ms without these turns (docs/benchmarks.md). A thread
    waiting here sleeps, in arrival order. Reads, the work after a commit (a Stripe call) and other
    companies' writes (PostgreSQL) go on meanwhile; other processes still meet in the database.
    """

    def __init__(self, *, one_for_all: bool) -> None:
        self._all = Turn() if one_for_all else None
        self._per_company: dict[str, Turn] = {}
        self._guard = threading.Lock()

    def turn(self, cif: str) -> Turn:
        if self._all is not None:
            return self._all
        with self._guard:
            turn = self._per_company.get(cif)
            if turn is None:
                turn = self._per_company[cif] = Turn()
            return turn


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


async def off_loop(request: Request, handler: Callable[[bytes], R]) -> R:
    """Read the raw body on the event loop (Starlette only reads it asynchronously), then run ``handler``
    with it in the thread pool: authentication, validation, the database and whatever else blocks."""
    raw = await request.body()
    return await run_in_threadpool(handler, raw)


def json_body(request: Request, raw: bytes, model: type[M], shape: dict[str, Any] | None = None) -> M:
    """``raw`` (the body :func:`off_loop` read) as ``model``, or SmartBill's error for a bad body."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise ApiError(415, "Tip de continut nesuportat: trimiteti JSON cu Content-Type: application/json.", shape)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"Continutul cererii nu este JSON valid: {exc}", shape) from exc
    if not isinstance(data, dict):
        raise ApiError(400, "Continutul cererii trebuie sa fie un obiect JSON.", shape)
    try:
        return model.model_validate(data)
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


@dataclass(frozen=True)
class AfterCommit:
    """What an op of :func:`run_write` returns when its answer can only be finished once its transaction has
    committed (the Stripe Checkout link of a new invoice: Stripe is never called under the series lock).

    ``finish`` gets the answer as committed and returns the final one. It runs after the commit, in no
    transaction, and must do its own short transactions; it should not raise (what it changed is committed).
    """

    answer: dict[str, Any]
    finish: Callable[[dict[str, Any]], dict[str, Any]]


def run_write(
    request: Request,
    caller: Caller,
    cif: str,
    raw: bytes,
    op: Callable[[Session, Company], dict[str, Any] | AfterCommit],
    shape: dict[str, Any],
) -> JSONResponse:
    """Run a write in one transaction; with an ``Idempotency-Key`` the first answer is kept and replayed.

    Blocks: call it from the thread pool (a ``def`` route, or :func:`off_loop`).
    """
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
    turns: WriteTurns = request.app.state.write_turns
    try:
        with turns.turn(cif), db.session(write=True) as session:
            company = get_company(session, cif)
            result = op(session, company)
            answer, finish = (result.answer, result.finish) if isinstance(result, AfterCommit) else (result, None)
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
    if finish is not None:
        answer = _finish(db, answer, finish, (scope, key) if key is not None else None)
    response = JSONResponse(answer)
    if key is not None:
        response.headers["Idempotency-Replayed"] = "false"
    return response


def _finish(
    db: Database, answer: dict[str, Any], finish: Callable[[dict[str, Any]], dict[str, Any]],
    kept: tuple[str, str] | None,
) -> dict[str, Any]:
    """Run an op's after-commit work; its final answer replaces the one kept for the ``Idempotency-Key``.

    The write is committed whatever happens here, so a failure is logged and the committed answer given:
    an error would make the client issue the document again.
    """
    try:
        final = finish(dict(answer))
    except Exception:  # noqa: BLE001 - see above
        log.exception("the work after the commit failed; answering what was committed")
        return answer
    if kept is not None and final != answer:
        scope, key = kept
        try:
            with db.session(write=True) as session:
                session.execute(
                    update(IdempotencyKey)
                    .where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
                    .values(response=final)
                )
        except Exception:  # noqa: BLE001 - replays then give the committed answer; the first caller has the final
            log.exception("keeping the final answer for Idempotency-Key %r", key)
    return final


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
    """Run a read (no write lock). Blocks: call it from the thread pool, like :func:`run_write`."""
    db: Database = request.app.state.db
    try:
        with db.session() as session:
            company = get_company(session, cif)
            return op(session, company)
    except DomainError as exc:
        raise ApiError(400, exc.text, shape) from exc
