"""BNR (Banca Nationala a Romaniei) reference exchange rates.

BNR publishes the RON reference rates on banking days shortly after 13:00 Bucharest time, as XML:

- daily: ``{base}/nbrfxrates.xml`` (one ``<Cube date=...>``, the latest publication);
- yearly: ``{base}/files/xml/years/nbrfxrates{YYYY}.xml`` (one ``<Cube>`` per banking day).

Shape (the namespace is ``http://www.bnr.ro/xsd`` in older files, ``https://...`` in newer ones, so
elements are matched on their local names only)::

    <DataSet xmlns="..."><Header>...</Header><Body><OrigCurrency>RON</OrigCurrency>
      <Cube date="2026-11-20"><Rate currency="EUR">5.0912</Rate>
        <Rate currency="HUF" multiplier="100">1.3180</Rate></Cube></Body></DataSet>

A value is RON per ``multiplier`` units of the currency (no attribute means 1); everything here is
returned per ONE unit, as an exact :class:`~decimal.Decimal`. There are no entries for weekends and
holidays: :func:`rate_on` picks the last publication on or before a day.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal, Inexact, InvalidOperation, localcontext
from types import TracebackType
from zoneinfo import ZoneInfo

import httpx
from lxml import etree

from punte.domain.calendar import add_working_days, is_working_day

log = logging.getLogger(__name__)

Rates = dict[date, dict[str, Decimal]]
"""Publication date -> ISO 4217 code -> RON per one unit of the currency."""

BNR_TZ = ZoneInfo("Europe/Bucharest")
BNR_PUBLICATION_HOUR = 13
"""BNR publishes on banking days shortly after this hour, Bucharest time."""
PUBLICATION_GRACE = timedelta(minutes=30)
"""Default allowance after 13:00 before a day's publication is taken as due."""

DEFAULT_BASE_URL = "https://www.bnr.ro"
DAILY_PATH = "/nbrfxrates.xml"
YEARLY_PATH = "/files/xml/years/nbrfxrates{year}.xml"
MAX_BODY_BYTES = 16 * 1024 * 1024
"""Refuse bodies larger than this (a yearly file is well under 1 MiB)."""

_CURRENCY_RE = re.compile(r"[A-Z]{3}")
_RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class BnrFeedError(Exception):
    """The BNR feed could not be fetched or did not contain usable rates.

    ``status_code`` is the last HTTP status seen, when the failure came from one.
    """

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


# --------------------------------------------------------------------------------------- parsing


def _sniff(data: bytes, source: str) -> None:
    """Reject bodies that are obviously not a BNR XML file before handing them to the parser."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not head:
        raise BnrFeedError(f"{source}: empty body, expected BNR rates XML")
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:512]:
        raise BnrFeedError(
            f"{source}: got an HTML page instead of rates XML (BNR site maintenance or error page?)"
        )
    if not head.startswith(b"<"):
        raise BnrFeedError(f"{source}: body is not XML (starts with {data[:40]!r})")


def _local(element: etree._Element) -> str | None:
    """Local name of an element, ignoring its namespace; None for comments and PIs."""
    tag = element.tag
    if not isinstance(tag, str):
        return None
    return tag.rpartition("}")[2]


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if _local(child) == name]


def _parse_rate(element: etree._Element, day: date, source: str) -> tuple[str, Decimal]:
    code = (element.get("currency") or "").strip().upper()
    if not _CURRENCY_RE.fullmatch(code):
        raise BnrFeedError(f"{source}: Rate on {day} has a bad currency attribute {code!r}")
    text = (element.text or "").strip()
    where = f"{source}: {code} on {day}"
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BnrFeedError(f"{where}: rate {text!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise BnrFeedError(f"{where}: rate {text!r} is not a positive number")
    raw_multiplier = (element.get("multiplier") or "1").strip()
    if not raw_multiplier.isdigit() or int(raw_multiplier) < 1:
        raise BnrFeedError(f"{where}: bad multiplier {raw_multiplier!r}")
    multiplier = int(raw_multiplier)
    if multiplier == 1:
        return code, value
    with localcontext() as ctx:
        ctx.prec = 60
        ctx.traps[Inexact] = True
        try:
            return code, value / multiplier
        except Inexact:
            raise BnrFeedError(f"{where}: {text} / {multiplier} is not exact") from None


def parse_bnr_xml(data: bytes, *, source: str = "BNR feed") -> Rates:
    """Parse a BNR daily (``nbrfxrates.xml``) or yearly (``nbrfxrates{YYYY}.xml``) rates file.

    Returns ``{publication date: {currency: RON per ONE unit}}``; values are exact Decimals
    (``Decimal(text) / multiplier``, no float). Namespace-agnostic. ``source`` only prefixes error
    messages. Raises :class:`BnrFeedError` on a body that is not XML (e.g. an HTML maintenance
    page), a root other than ``DataSet``, a base currency other than RON, or missing or malformed
    data (no ``Body``, no ``Cube``, a ``Cube`` without rates, conflicting duplicate dates).
    """
    _sniff(data, source)
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise BnrFeedError(f"{source}: malformed XML: {exc}") from None
    if root is None or _local(root) != "DataSet":
        found = None if root is None else _local(root)
        raise BnrFeedError(f"{source}: root element is {found!r}, expected 'DataSet'")
    bodies = _children(root, "Body")
    if len(bodies) != 1:
        raise BnrFeedError(f"{source}: expected one Body element, found {len(bodies)}")
    body = bodies[0]
    for orig in _children(body, "OrigCurrency"):
        base = (orig.text or "").strip().upper()
        if base and base != "RON":
            raise BnrFeedError(f"{source}: rates are against {base!r}, expected RON")
    cubes = _children(body, "Cube")
    if not cubes:
        raise BnrFeedError(f"{source}: no Cube (no rates) in the file")

    rates: Rates = {}
    for cube in cubes:
        raw_date = (cube.get("date") or "").strip()
        try:
            day = date.fromisoformat(raw_date)
        except ValueError:
            raise BnrFeedError(f"{source}: Cube has a bad date {raw_date!r}") from None
        day_rates: dict[str, Decimal] = {}
        for element in _children(cube, "Rate"):
            code, value = _parse_rate(element, day, source)
            if code in day_rates and day_rates[code] != value:
                raise BnrFeedError(f"{source}: two different {code} rates on {day}")
            day_rates[code] = value
        if not day_rates:
            raise BnrFeedError(f"{source}: Cube {day} has no rates")
        if day in rates and rates[day] != day_rates:
            raise BnrFeedError(f"{source}: two different Cubes dated {day}")
        rates[day] = day_rates
    return rates


# --------------------------------------------------------------------------------------- lookup


def rate_on(rates: Rates, currency: str, day: date) -> tuple[date, Decimal] | None:
    """RON per one unit of ``currency`` as last published on or before ``day``.

    Returns ``(publication date used, rate)``. ``RON`` gives ``(day, Decimal(1))``. Returns None when
    ``rates`` has no publication on or before ``day``, or when the latest such publication does not
    quote ``currency`` (an older quote is not used: it would be stale).

    ``rates`` must cover the period up to ``day``: a publication missing from it cannot be detected
    here (see :func:`latest_expected_publication`). Whether an invoice dated ``day`` should use the
    rate published on ``day`` itself (after 13:00) or the previous one is the caller's decision;
    pass ``day - 1`` for the latter.
    """
    code = currency.strip().upper()
    if code == "RON":
        return day, Decimal(1)
    published = [d for d in rates if d <= day]
    if not published:
        return None
    latest = max(published)
    value = rates[latest].get(code)
    if value is None:
        return None
    return latest, value


def latest_expected_publication(now: datetime, *, grace: timedelta = PUBLICATION_GRACE) -> date:
    """The date of the newest BNR publication that should exist at ``now`` (a timezone-aware time).

    That is today (Bucharest) if today is a working day and it is at least 13:00 + ``grace`` there,
    otherwise the previous working day (weekends and Romanian legal holidays have no publication).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(BNR_TZ)
    today = local.date()
    due = datetime(today.year, today.month, today.day, BNR_PUBLICATION_HOUR, tzinfo=BNR_TZ) + grace
    if is_working_day(today) and local >= due:
        return today
    return add_working_days(today, -1)


def expected_publication(day: date, now: datetime, *, grace: timedelta = PUBLICATION_GRACE) -> bool:
    """True if BNR publishes rates on ``day`` and that publication should exist at ``now``."""
    return is_working_day(day) and day <= latest_expected_publication(now, grace=grace)


# --------------------------------------------------------------------------------------- client


class BnrClient:
    """Fetches BNR rate files over HTTP.

    Explicit timeouts (``timeout`` seconds for connect, read, write and pool). Retries on HTTP 5xx,
    timeouts and network errors, up to ``max_attempts`` tries in all, sleeping ``backoff``, then
    twice that, between tries (``sleep`` is injectable for tests). Never retries a 4xx, an HTML
    page or a malformed file. Every failure is raised as :class:`BnrFeedError`.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        *,
        max_attempts: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.base_url = base_url.rstrip("/")
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._sleep = sleep
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            headers={"Accept": "application/xml, text/xml;q=0.9, */*;q=0.1", "User-Agent": "punte"},
        )

    def close(self) -> None:
        """Close the underlying HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> BnrClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def fetch_daily(self) -> Rates:
        """Fetch and parse ``{base}/nbrfxrates.xml`` (the latest publication)."""
        url = self.base_url + DAILY_PATH
        return parse_bnr_xml(self._get(url), source=url)

    def fetch_year(self, year: int) -> Rates:
        """Fetch and parse ``{base}/files/xml/years/nbrfxrates{year}.xml`` (all of ``year``)."""
        if not 1990 <= year <= 9999:
            raise ValueError(f"implausible year {year}")
        url = self.base_url + YEARLY_PATH.format(year=year)
        rates = parse_bnr_xml(self._get(url), source=url)
        stray = sorted(d for d in rates if d.year != year)
        if stray:
            raise BnrFeedError(f"{url}: contains dates outside {year}, e.g. {stray[0]}")
        return rates

    def _get(self, url: str) -> bytes:
        last_problem = ""
        last_status: int | None = None
        last_exc: Exception | None = None
        for attempt in range(1, self._max_attempts + 1):
            try:
                with self._http.stream("GET", url) as response:
                    status = response.status_code
                    if 400 <= status < 500:
                        raise BnrFeedError(f"{url}: HTTP {status}", status_code=status)
                    if status < 500:
                        if status != 200:
                            raise BnrFeedError(f"{url}: unexpected HTTP {status}", status_code=status)
                        body = self._read_limited(response, url)
                        _sniff(body, url)
                        return body
                    last_problem, last_status, last_exc = f"HTTP {status}", status, None
            except _RETRYABLE as exc:
                last_problem, last_status, last_exc = f"{type(exc).__name__}: {exc}", None, exc
            except httpx.HTTPError as exc:
                raise BnrFeedError(f"{url}: {type(exc).__name__}: {exc}") from exc
            if attempt < self._max_attempts:
                delay = self._backoff * 2 ** (attempt - 1)
                log.warning(
                    "BNR %s failed (%s), try %d/%d, retrying in %.1fs",
                    url, last_problem, attempt, self._max_attempts, delay,
                )
                self._sleep(delay)
        raise BnrFeedError(
            f"{url}: unavailable after {self._max_attempts} tries ({last_problem})",
            status_code=last_status,
        ) from last_exc

    @staticmethod
    def _read_limited(response: httpx.Response, url: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise BnrFeedError(f"{url}: body larger than {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
