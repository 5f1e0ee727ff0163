"""A synchronous client for ANAF's RO e-Factura API (``.../FCTEL/rest/``).

One :class:`AnafClient` talks to one environment's base URL (the offline sandbox, ANAF test or
ANAF production, see :mod:`punte.efactura.anaf.environments`) with an OAuth access token.
Every call has explicit connect and read timeouts, every answer is sniffed before it is parsed
(:mod:`punte.efactura.anaf.answers`), and every failure is one of the typed errors of
:mod:`punte.efactura.anaf.errors`:

* 429 and 5xx, timeouts, HTML pages and plain text are :class:`AnafTransientError` with a
  back-off hint (``Retry-After`` when ANAF sends one).
* An upload whose request may have reached ANAF without an answer coming back (read timeout,
  a cut connection, a 5xx or a page that is not ANAF's answer) is :class:`AnafUnknownOutcome`:
  the caller must look for it in the message list before uploading again.
* ``stareMesaj`` and ``descarcare`` are limited per message per day (100 and 10). With a
  :class:`~punte.efactura.anaf.limits.CallBudget` the client asks for a unit before each call and
  raises :class:`AnafLimitReached` instead of calling when the day's units are spent.

Tests inject an ``httpx`` transport or point the base URL at the sandbox; nothing is patched.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from punte import __version__
from punte.domain.identifiers import cif_digits

from .answers import (
    Message,
    MessagePage,
    MessageState,
    UploadResult,
    ValidationResult,
    daily_limit_error,
    describe,
    is_daily_limit,
    json_error_text,
    parse_json,
    parse_messages,
    parse_stare,
    parse_upload,
    parse_validation,
    sniff,
    unexpected,
)
from .errors import (
    AnafError,
    AnafPermanentError,
    AnafTransientError,
    AnafUnauthorized,
    AnafUnknownOutcome,
)

STANDARDS = ("UBL", "CN", "CII", "RASP")
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_VALIDATION_BYTES = 5 * 1024 * 1024
LIST_DAYS = range(1, 61)
PAGE_SIZE = 500

TokenSource = str | Callable[[], str] | None


class CallBudget(Protocol):
    """Counts the calls ANAF limits per message per day; ``spend`` raises AnafLimitReached when spent."""

    def spend(self, call: str, key: str) -> None: ...


class RequestPacer:
    """At most ``calls`` requests per ``seconds`` from this process (ANAF allows 1000 per minute)."""

    def __init__(self, calls: int = 900, seconds: float = 60.0) -> None:
        self.calls = calls
        self.seconds = seconds
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def take(self) -> None:
        with self._lock:
            now = time.monotonic()
            while self._sent and now - self._sent[0] >= self.seconds:
                self._sent.popleft()
            if len(self._sent) >= self.calls:
                wait = self.seconds - (now - self._sent[0])
                raise AnafTransientError(
                    f"punte: limita de {self.calls} cereri catre ANAF pe {self.seconds:.0f} s a fost atinsa",
                    retry_after=max(wait, 1.0),
                )
            self._sent.append(now)


#: One pacer per process: every client of the process shares ANAF's per-minute allowance.
PACER = RequestPacer()


class _SharedTransport(httpx.BaseTransport):
    """The process's one connection pool, handed to every client; closing a client leaves it open."""

    def __init__(self) -> None:
        self._inner: httpx.HTTPTransport | None = None
        self._lock = threading.Lock()

    def _transport(self) -> httpx.HTTPTransport:
        with self._lock:
            if self._inner is None:  # building the TLS context (CA bundle) costs ~50 ms: once per process
                self._inner = httpx.HTTPTransport(limits=httpx.Limits(max_connections=50, max_keepalive_connections=20))
            return self._inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._transport().handle_request(request)

    def close(self) -> None:
        pass


SHARED_TRANSPORT = _SharedTransport()


def _retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return max(float(value), 1.0)
    if value:
        try:
            from email.utils import parsedate_to_datetime

            when = parsedate_to_datetime(value)
            return max((when - datetime.now(UTC)).total_seconds(), 1.0)
        except (TypeError, ValueError):
            pass
    return default


def numeric_cif(cif: str) -> str:
    """ANAF wants the CUI's digits only (no ``RO``)."""
    digits = cif_digits(str(cif))
    if not digits.isdigit():
        raise AnafPermanentError(f"CIF invalid pentru ANAF: {cif!r}")
    return digits


def unix_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


class AnafClient:
    """ANAF's e-Factura calls against ``base_url`` (ending in ``/FCTEL/rest/``).

    ``access_token`` is the OAuth bearer token, or a callable returning the current one (it is
    called before every request, so a refreshed token is picked up). ``transport`` is handed to
    ``httpx.Client`` (tests use the sandbox or an ``httpx.MockTransport``).
    """

    def __init__(
        self,
        base_url: str,
        *,
        access_token: TokenSource = None,
        transport: httpx.BaseTransport | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        budget: CallBudget | None = None,
        pacer: RequestPacer | None = PACER,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._token = access_token
        self.budget = budget
        self.pacer = pacer
        self.calls: dict[str, int] = {}
        self._http = httpx.Client(
            base_url=self.base_url,
            transport=transport if transport is not None else SHARED_TRANSPORT,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout, write=read_timeout, pool=connect_timeout),
            headers={"User-Agent": f"punte/{__version__}"},
            follow_redirects=False,
        )

    # -- plumbing -------------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AnafClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _headers(self) -> dict[str, str]:
        token = self._token() if callable(self._token) else self._token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def _send(
        self, method: str, path: str, *, call: str, params: dict[str, Any] | None = None,
        content: bytes | None = None, content_type: str | None = None, upload: bool = False,
        authenticated: bool = True,
    ) -> httpx.Response:
        headers = self._headers() if authenticated else {}
        if content_type:
            headers["Content-Type"] = content_type
        if self.pacer is not None:
            self.pacer.take()
        self.calls[call] = self.calls.get(call, 0) + 1
        try:
            response = self._http.request(method, path, params=params, content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # The request never left: nothing can have reached ANAF.
            raise AnafTransientError(f"ANAF {call}: conexiune imposibila: {exc!r}", retry_after=30.0) from exc
        except httpx.TimeoutException as exc:
            if upload:
                raise AnafUnknownOutcome(f"ANAF {call}: niciun raspuns in timp util ({exc!r})",
                                         retry_after=30.0) from exc
            raise AnafTransientError(f"ANAF {call}: timeout ({exc!r})", retry_after=30.0) from exc
        except httpx.HTTPError as exc:
            if upload:
                raise AnafUnknownOutcome(f"ANAF {call}: conexiunea s-a intrerupt ({exc!r})", retry_after=30.0) from exc
            raise AnafTransientError(f"ANAF {call}: eroare de retea ({exc!r})", retry_after=30.0) from exc
        self._check_status(response, call=call, upload=upload)
        return response

    def _check_status(self, response: httpx.Response, *, call: str, upload: bool) -> None:
        status = response.status_code
        body = response.content
        if status == 429:
            raise AnafTransientError(
                f"ANAF {call}: prea multe cereri (HTTP 429)", retry_after=_retry_after(response, 60.0),
                status=status, body=body,
            )
        if status >= 500:
            cls = AnafUnknownOutcome if upload else AnafTransientError
            raise cls(
                f"ANAF {call}: eroare de server HTTP {status}: {describe(body)}",
                retry_after=_retry_after(response, 30.0), status=status, body=body,
            )
        if 300 <= status < 400:
            raise AnafTransientError(
                f"ANAF {call}: redirectionare neasteptata HTTP {status} catre {response.headers.get('location')}",
                retry_after=60.0, status=status, body=body,
            )
        if status in (401, 403):
            if sniff(body) == "html" and status == 403:  # the firewall's "Request Rejected" page
                raise AnafTransientError(f"ANAF {call}: cerere respinsa de firewall: {describe(body)}",
                                         retry_after=120.0, status=status, body=body)
            raise AnafUnauthorized(
                f"ANAF {call}: acces refuzat (HTTP {status}): tokenul OAuth a expirat, a fost revocat "
                f"sau nu are drept pe acest CIF. {describe(body)}",
                status=status, body=body,
            )
        if status >= 400:
            text = describe(body)
            if sniff(body) == "json":
                try:
                    text = json_error_text(parse_json(body, status=status, call=call)) or text
                except AnafTransientError:
                    pass
            raise AnafPermanentError(f"ANAF {call}: HTTP {status}: {text}", status=status, body=body)

    def _expect(self, response: httpx.Response, *, call: str, kinds: tuple[str, ...], upload: bool = False) -> str:
        kind = sniff(response.content)
        if kind in kinds:
            return kind
        error = unexpected(response.content, status=response.status_code, call=call, expected="/".join(kinds))
        if upload:
            raise AnafUnknownOutcome(error.message, retry_after=error.retry_after, status=error.status,
                                     body=response.content)
        raise error

    def _spend(self, call: str, key: str) -> None:
        if self.budget is not None:
            self.budget.spend(call, key)

    # -- calls ------------------------------------------------------------------------------------
    def upload(
        self, xml: bytes, cif: str, *, standard: str = "UBL", extern: bool = False, autofactura: bool = False,
        executare: bool = False, b2c: bool = False,
    ) -> UploadResult:
        """``POST upload`` (or ``uploadb2c``): the index to poll, or a typed error.

        ANAF's duplicate answer raises :class:`AnafDuplicateUpload` carrying the earlier index.
        """
        if standard not in STANDARDS:
            raise ValueError(f"standard must be one of {STANDARDS}, not {standard!r}")
        if len(xml) > MAX_UPLOAD_BYTES:
            raise AnafPermanentError(f"fisierul are {len(xml)} octeti; ANAF accepta cel mult {MAX_UPLOAD_BYTES}")
        params: dict[str, str] = {"standard": standard, "cif": numeric_cif(cif)}
        if extern:
            params["extern"] = "DA"
        if autofactura:
            params["autofactura"] = "DA"
        if executare:
            params["executare"] = "DA"
        call = "uploadb2c" if b2c else "upload"
        response = self._send("POST", call, call=call, params=params, content=xml, content_type="text/plain",
                              upload=True)
        self._expect(response, call=call, kinds=("xml",), upload=True)
        try:
            return parse_upload(response.content, status=response.status_code)
        except AnafTransientError as exc:
            raise AnafUnknownOutcome(exc.message, retry_after=exc.retry_after, status=exc.status,
                                     body=response.content) from exc

    def upload_b2c(self, xml: bytes, cif: str, *, standard: str = "UBL", extern: bool = False) -> UploadResult:
        """``POST uploadb2c``: an invoice whose buyer is an individual."""
        return self.upload(xml, cif, standard=standard, extern=extern, b2c=True)

    def stare_mesaj(self, index: str) -> MessageState:
        """``GET stareMesaj?id_incarcare=``: ``in prelucrare``, ``ok``, ``nok`` or ``XML cu erori ...``."""
        index = str(index).strip()
        self._spend("stareMesaj", index)
        response = self._send("GET", "stareMesaj", call="stareMesaj", params={"id_incarcare": index})
        self._expect(response, call="stareMesaj", kinds=("xml",))
        return parse_stare(response.content, status=response.status_code)

    def lista_mesaje(self, cif: str, zile: int, filtru: str | None = None) -> list[Message]:
        """``GET listaMesajeFactura``: the messages of the last ``zile`` days (1..60)."""
        if zile not in LIST_DAYS:
            raise ValueError("zile must be between 1 and 60")
        params = {"zile": str(zile), "cif": numeric_cif(cif)}
        if filtru:
            params["filtru"] = filtru
        response = self._send("GET", "listaMesajeFactura", call="listaMesajeFactura", params=params)
        self._expect(response, call="listaMesajeFactura", kinds=("json",))
        return parse_messages(response.content, status=response.status_code, call="listaMesajeFactura").messages

    def lista_mesaje_pagina(
        self, cif: str, start: datetime, end: datetime, page: int = 1, filtru: str | None = None
    ) -> MessagePage:
        """One page of ``GET listaMesajePaginatieFactura`` (times are converted to unix ms)."""
        params = {"startTime": str(unix_ms(start)), "endTime": str(unix_ms(end)), "cif": numeric_cif(cif),
                  "pagina": str(page)}
        if filtru:
            params["filtru"] = filtru
        call = "listaMesajePaginatieFactura"
        response = self._send("GET", call, call=call, params=params)
        self._expect(response, call=call, kinds=("json",))
        return parse_messages(response.content, status=response.status_code, call=call)

    def lista_mesaje_paginatie(
        self, cif: str, start: datetime, end: datetime, filtru: str | None = None
    ) -> Iterator[Message]:
        """Every message between ``start`` and ``end``, page after page (500 per page)."""
        page = 1
        while True:
            try:
                answer = self.lista_mesaje_pagina(cif, start, end, page, filtru)
            except AnafPermanentError as exc:
                # Asking past the last page is an error at ANAF; the previous page was the last.
                if page > 1 and "pagin" in exc.message.lower():
                    return
                raise
            yield from answer.messages
            if not answer.messages:
                return
            if answer.pages is not None and page >= answer.pages:
                return
            if answer.pages is None and len(answer.messages) < PAGE_SIZE:
                return
            page += 1

    def descarcare(self, download_id: str) -> bytes:
        """``GET descarcare?id=``: the ZIP (invoice or error XML, plus ANAF's signature)."""
        download_id = str(download_id).strip()
        self._spend("descarcare", download_id)
        response = self._send("GET", "descarcare", call="descarcare", params={"id": download_id})
        kind = self._expect(response, call="descarcare", kinds=("zip", "json"))
        if kind == "json":
            data = parse_json(response.content, status=response.status_code, call="descarcare")
            error = json_error_text(data) or ""
            if is_daily_limit(error):
                raise daily_limit_error(f"ANAF descarcare: {error}")
            raise AnafPermanentError(f"ANAF descarcare: {json_error_text(data) or describe(response.content)}",
                                     status=response.status_code, body=response.content)
        return response.content

    def validare(self, xml: bytes, standard: str = "FACT1") -> ValidationResult:
        """``POST validare/FACT1|FCN``: ANAF's own verdict on a file (production only)."""
        if len(xml) > MAX_VALIDATION_BYTES:
            raise AnafPermanentError(
                f"fisierul are {len(xml)} octeti; validarea accepta cel mult {MAX_VALIDATION_BYTES}")
        call = f"validare/{standard}"
        response = self._send("POST", call, call="validare", content=xml, content_type="text/plain")
        self._expect(response, call="validare", kinds=("json",))
        data = parse_json(response.content, status=response.status_code, call="validare")
        if "stare" not in data:
            raise AnafPermanentError(f"ANAF validare: {json_error_text(data) or describe(response.content)}",
                                     status=response.status_code, body=response.content)
        return parse_validation(data)

    def transformare(self, xml: bytes, standard: str = "FACT1", *, validate: bool = True) -> bytes:
        """``POST transformare/FACT1`` (``/DA`` skips validation): the PDF, or the nok as an error."""
        if len(xml) > MAX_VALIDATION_BYTES:
            raise AnafPermanentError(
                f"fisierul are {len(xml)} octeti; transformarea accepta cel mult {MAX_VALIDATION_BYTES}")
        call = f"transformare/{standard}" + ("" if validate else "/DA")
        response = self._send("POST", call, call="transformare", content=xml, content_type="text/plain")
        kind = self._expect(response, call="transformare", kinds=("pdf", "json"))
        if kind == "pdf":
            return response.content
        data = parse_json(response.content, status=response.status_code, call="transformare")
        result = parse_validation(data)
        text = "; ".join(str(f) for f in result.findings) or json_error_text(data) or describe(response.content)
        raise AnafPermanentError(f"ANAF transformare: {text}", status=response.status_code, body=response.content)


__all__ = ["AnafClient", "AnafError", "CallBudget", "PACER", "RequestPacer", "numeric_cif", "unix_ms"]
