"""SmartBill client: error mapping, retries, timeouts and the client-side limiter (no server, no real waits).

Both clients run the same checks: the async one through a small blocking wrapper.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from punte.smartbill._common import RetryPolicy, server_pause
from punte.smartbill.aclient import AsyncRateLimiter, AsyncSmartBill
from punte.smartbill.client import RateLimiter, SmartBill
from punte.smartbill.errors import (
    AuthenticationError,
    NotFoundError,
    RateLimitError,
    ServerError,
    SmartBillApiError,
    SmartBillError,
    TransportError,
    UnsupportedMediaType,
    ValidationError,
)
from punte.smartbill.wire import InvoiceRequest

Handler = Callable[[httpx.Request], httpx.Response]
OK_SERIES = {"errorText": "", "message": "", "list": [{"name": "FCT", "nextNumber": "0002", "type": "f"}]}
OK_DOC = {"errorText": "", "message": "", "number": "0001", "series": "FCT", "url": ""}
NO_WAIT = RetryPolicy(retries=2, base=0.0)


class FakeClock:
    """A clock whose sleep only moves time forward."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


class Blocking:
    """Runs an ``AsyncSmartBill`` from sync test code."""

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._target, self._loop = target, loop

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if inspect.iscoroutinefunction(value):
            return lambda *a, **kw: self._loop.run_until_complete(value(*a, **kw))
        return Blocking(value, self._loop) if hasattr(value, "_run") else value


@pytest.fixture(params=["sync", "async"])
def make(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``make(handler, **client_kwargs)``: a client of the kind under test on a MockTransport."""
    loop = asyncio.new_event_loop()
    opened: list[Any] = []

    def build(handler: Handler, **kw: Any) -> Any:
        kw.setdefault("retry_policy", NO_WAIT)
        transport = httpx.MockTransport(handler)
        if request.param == "sync":
            client: Any = SmartBill("api@firma.ro", "tok", transport=transport, **kw)
            opened.append(client.close)
            return client
        if "sleep" in kw:
            sync_sleep = kw.pop("sleep")

            async def sleep(seconds: float) -> None:
                sync_sleep(seconds)

            kw["sleep"] = sleep
        aclient = AsyncSmartBill("api@firma.ro", "tok", transport=transport, **kw)
        opened.append(lambda: loop.run_until_complete(aclient.aclose()))
        return Blocking(aclient, loop)

    build.kind = request.param  # type: ignore[attr-defined]
    yield build
    for close in opened:
        close()
    loop.close()


def answering(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler giving the responses in turn (the last one repeated); exceptions are raised."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = responses[min(len(seen), len(responses)) - 1]
        if isinstance(item, Exception):
            raise item
        return item

    return handler, seen


# ---- the request on the wire ------------------------------------------------------------------------------


def test_requests_carry_basic_auth_json_and_reference_parameter_names(make: Any) -> None:
    handler, seen = answering(httpx.Response(200, json=OK_DOC))
    sb = make(handler)
    data = {"companyVatCode": "RO1", "issueDate": date(2026, 3, 2), "products": [{"price": Decimal("9.5")}]}
    sb.invoices.create(data)
    sb.invoices.cancel("RO1", "FCT", 7)
    sb.invoices.payment_status("RO1", "FCT", "0007")
    post, put, get = seen
    assert post.headers["authorization"] == httpx.BasicAuth("api@firma.ro", "tok")._auth_header
    assert (post.method, str(post.url)) == ("POST", "https://ws.smartbill.ro/SBORO/api/invoice")
    assert post.headers["content-type"] == "application/json" and post.headers["accept"] == "application/json"
    sent = json.loads(post.content)
    assert sent == {"companyVatCode": "RO1", "issueDate": "2026-03-02", "products": [{"price": 9.5}]}
    assert "idempotency-key" not in post.headers
    assert str(put.url).endswith("/invoice/cancel?cif=RO1&seriesName=FCT&number=7") and put.method == "PUT"
    assert str(get.url).endswith("/invoice/paymentstatus?cif=RO1&seriesname=FCT&number=0007")


def test_a_model_sends_only_the_fields_that_were_set(make: Any) -> None:
    handler, seen = answering(httpx.Response(200, json=OK_DOC))
    make(handler).invoices.create(InvoiceRequest.model_validate({"companyVatCode": "RO1", "seriesName": "FCT",
                                                                 "products": [{"name": "A", "quantity": "2"}]}))
    assert json.loads(seen[0].content) == {"companyVatCode": "RO1", "seriesName": "FCT",
                                           "products": [{"name": "A", "quantity": 2}]}


def test_reverse_sends_the_reference_body(make: Any) -> None:
    handler, seen = answering(httpx.Response(200, json={**OK_DOC, "documentId": 9}))
    answer = make(handler).invoices.reverse("RO1", "FCT", "0001", date(2026, 3, 2))
    assert answer.documentId == 9
    assert json.loads(seen[0].content) == {"companyVatCode": "RO1", "seriesName": "FCT", "number": "0001",
                                           "issueDate": "2026-03-02"}


# ---- error answers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [(400, ValidationError), (401, AuthenticationError), (403, RateLimitError), (404, NotFoundError),
     (405, SmartBillApiError), (410, NotFoundError), (415, UnsupportedMediaType), (429, RateLimitError)],
)
def test_error_statuses_map_to_exceptions_and_are_never_retried(
    make: Any, status: int, exc_type: type[SmartBillApiError]
) -> None:
    handler, seen = answering(httpx.Response(status, json={"errorText": "Mesaj", "message": ""}))
    with pytest.raises(exc_type) as exc:
        make(handler).series.list("RO1")
    assert type(exc.value) is exc_type and isinstance(exc.value, SmartBillError)
    assert exc.value.status_code == status and exc.value.error_text == "Mesaj" and len(seen) == 1


def test_403_block_carries_the_reset_time(make: Any) -> None:
    reset = 1_900_000_000
    handler, _ = answering(httpx.Response(403, json={"errorText": "Blocat"}, headers={"X-RateLimit-Reset": str(reset)}))
    with pytest.raises(RateLimitError) as exc:
        make(handler).taxes.list("RO1")
    assert exc.value.reset_at == datetime.fromtimestamp(reset, tz=UTC)


def test_429_without_reset_header(make: Any) -> None:
    handler, _ = answering(httpx.Response(429, text="Too Many Requests"))
    with pytest.raises(RateLimitError) as exc:
        make(handler).taxes.list("RO1")
    assert exc.value.reset_at is None and exc.value.error_text == "Too Many Requests"


def test_400_error_text_and_body(make: Any) -> None:
    body = {"errorText": "Factura este deja stornata.", "message": "", "number": "", "series": "", "documentId": -1}
    handler, _ = answering(httpx.Response(400, json=body))
    with pytest.raises(ValidationError) as exc:
        make(handler).invoices.reverse("RO1", "FCT", "0001")
    assert exc.value.error_text == "Factura este deja stornata." and exc.value.body == body


def test_200_with_error_text_is_an_error(make: Any) -> None:
    handler, _ = answering(httpx.Response(200, json={**OK_DOC, "number": "", "errorText": "Client invalid!"}))
    with pytest.raises(ValidationError) as exc:
        make(handler).invoices.create({"companyVatCode": "RO1"})
    assert exc.value.status_code == 200 and exc.value.error_text == "Client invalid!"


def test_xml_error_bodies_and_non_json_answers(make: Any) -> None:
    xml = "<?xml version='1.0'?><response><errorText>Nu puteti vizualiza factura!</errorText></response>"
    handler, _ = answering(httpx.Response(400, text=xml, headers={"Content-Type": "application/xml"}),
                           httpx.Response(200, text="<html>proxy</html>", headers={"Content-Type": "text/html"}))
    sb = make(handler)
    with pytest.raises(ValidationError, match="Nu puteti vizualiza factura!"):
        sb.invoices.pdf("RO1", "FCT", "1")
    with pytest.raises(SmartBillApiError, match="not JSON"):
        sb.taxes.list("RO1")


def test_pdf_answered_with_a_json_error(make: Any) -> None:
    handler, _ = answering(httpx.Response(200, json={"errorText": "Documentul nu incape pe formatul specificat"}))
    with pytest.raises(ValidationError, match="nu incape"):
        make(handler).invoices.pdf("RO1", "FCT", "1")


# ---- retries ----------------------------------------------------------------------------------------------------


def test_get_is_retried_on_5xx_then_succeeds(make: Any) -> None:
    handler, seen = answering(httpx.Response(500), httpx.Response(503), httpx.Response(200, json=OK_SERIES))
    assert make(handler).series.list("RO1").list[0].nextNumber == "0002" and len(seen) == 3


def test_get_gives_up_after_the_retries_with_a_server_error(make: Any) -> None:
    handler, seen = answering(httpx.Response(502, json={"errorText": "Bad gateway"}))
    with pytest.raises(ServerError) as exc:
        make(handler).series.list("RO1")
    assert len(seen) == 3 and exc.value.status_code == 502


@pytest.mark.parametrize("call", ["create", "cancel", "delete"])
def test_writes_without_a_key_are_never_retried(make: Any, call: str) -> None:
    handler, seen = answering(httpx.Response(500))
    sb = make(handler)
    with pytest.raises(ServerError):
        sb.invoices.create({"companyVatCode": "RO1"}) if call == "create" else getattr(sb.invoices, call)("RO1", "F", 1)
    assert len(seen) == 1


def test_writes_with_an_idempotency_key_are_retried_with_the_same_key(make: Any) -> None:
    handler, seen = answering(httpx.Response(500), httpx.ReadTimeout("slow"), httpx.Response(200, json=OK_DOC))
    answer = make(handler).invoices.create({"companyVatCode": "RO1"}, idempotency_key="order-1")
    assert answer.number == "0001" and len(seen) == 3
    assert {r.headers["idempotency-key"] for r in seen} == {"order-1"}
    assert len({r.content for r in seen}) == 1


def test_get_timeouts_are_retried_then_a_transport_error(make: Any) -> None:
    handler, seen = answering(httpx.ReadTimeout("timed out"))
    with pytest.raises(TransportError) as exc:
        make(handler).taxes.list("RO1")
    assert len(seen) == 3 and exc.value.attempts == 3 and exc.value.maybe_delivered


def test_post_timeout_is_not_retried_and_may_have_been_delivered(make: Any) -> None:
    handler, seen = answering(httpx.ReadTimeout("timed out"))
    with pytest.raises(TransportError) as exc:
        make(handler).invoices.create({"companyVatCode": "RO1"})
    assert len(seen) == 1 and exc.value.attempts == 1 and exc.value.maybe_delivered


def test_connection_refused_says_nothing_was_delivered(make: Any) -> None:
    handler, seen = answering(httpx.ConnectError("refused"))
    with pytest.raises(TransportError) as exc:
        make(handler).invoices.create({"companyVatCode": "RO1"})
    assert len(seen) == 1 and not exc.value.maybe_delivered


def test_back_off_grows_exponentially_and_honours_retry_after(make: Any) -> None:
    slept: list[float] = []
    handler, _ = answering(httpx.Response(500), httpx.Response(500), httpx.Response(503, headers={"Retry-After": "7"}),
                           httpx.Response(200, json=OK_SERIES))
    make(handler, retry_policy=RetryPolicy(retries=3, base=1.0, cap=8.0), sleep=slept.append).series.list("RO1")
    assert len(slept) == 3
    assert 0.5 <= slept[0] <= 1 and 1 <= slept[1] <= 2 and slept[2] == 7


def test_real_timeout_against_a_silent_server_is_a_transport_error() -> None:
    """A socket that accepts and never answers: httpx's own read timeout, retried, then TransportError."""
    import socket

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}/SBORO/api"
        with (SmartBill("u", "t", url, timeout=0.2, retry_policy=NO_WAIT) as sb,
              pytest.raises(TransportError, match="ReadTimeout") as exc):
            sb.taxes.list("RO1")
        assert exc.value.attempts == 3
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        server.close()


# ---- the limiter --------------------------------------------------------------------------------------------


def test_limiter_lets_max_calls_through_then_waits_for_the_window() -> None:
    clock = FakeClock()
    limiter = RateLimiter(30, 10, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(65):
        limiter.acquire()
        times.append(clock.now - 1000)
    assert times[:30] == [0.0] * 30 and times[30:60] == [10.0] * 30 and times[60:] == [20.0] * 5


def test_limiter_window_slides() -> None:
    clock = FakeClock()
    limiter = RateLimiter(3, 10, clock=clock, sleep=clock.sleep)
    stamps = []
    for step in (0, 4, 4, 0, 0, 0):  # calls at 0, 4, 8, then the 4th must wait until 10, the 5th until 14
        clock.now += step
        limiter.acquire()
        stamps.append(clock.now - 1000)
    assert stamps == [0, 4, 8, 10, 14, 18]


def test_limiter_pause_holds_calls() -> None:
    clock = FakeClock()
    limiter = RateLimiter(30, 10, clock=clock, sleep=clock.sleep)
    limiter.pause(4.5)
    limiter.acquire()
    assert clock.now - 1000 == 4.5


def test_server_saying_no_calls_left_pauses_the_client(make: Any) -> None:
    clock = FakeClock()
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 5)}
    handler, seen = answering(httpx.Response(200, json=OK_SERIES, headers=headers), httpx.Response(200, json=OK_SERIES))
    limiter: Any = (RateLimiter(clock=clock, sleep=clock.sleep) if make.kind == "sync"
                    else AsyncRateLimiter(clock=clock, sleep=clock.asleep))
    sb = make(handler, limiter=limiter)
    sb.series.list("RO1")
    sb.series.list("RO1")
    assert len(seen) == 2 and len(clock.slept) == 1 and 3 < clock.slept[0] <= 5


def test_server_pause_reads_the_headers() -> None:
    now = 1_700_000_000.0
    assert server_pause({"x-ratelimit-remaining": "3", "x-ratelimit-reset": "1700000010"}, now) == 0
    assert server_pause({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000010"}, now) == 10
    assert server_pause({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700000010000"}, now) == 10  # in ms
    assert server_pause({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1700009999"}, now) == 60  # capped
    assert server_pause({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1699999990"}, now) == 0  # past
    assert server_pause({"x-ratelimit-remaining": "0"}, now) == 0


def test_limiter_is_thread_safe() -> None:
    limiter = RateLimiter(5, 0.25)
    granted: list[float] = []
    take = limiter._window.take

    def recording_take(now: float) -> float:  # runs under the limiter's lock
        wait = take(now)
        if wait <= 0:
            granted.append(now)
        return wait

    limiter._window.take = recording_take  # type: ignore[method-assign]

    def work() -> None:
        for _ in range(5):
            limiter.acquire()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(granted) == 20 and granted == sorted(granted)
    assert all(granted[i + 5] - granted[i] >= 0.25 for i in range(len(granted) - 5))


def test_async_limiter_serves_concurrent_tasks_in_the_window() -> None:
    clock = FakeClock()
    limiter = AsyncRateLimiter(4, 1, clock=clock, sleep=clock.asleep)
    stamps: list[float] = []

    async def task() -> None:
        await limiter.acquire()
        stamps.append(clock.now - 1000)

    async def main() -> None:
        await asyncio.gather(*(task() for _ in range(10)))

    asyncio.run(main())
    assert sorted(stamps) == [0.0] * 4 + [1.0] * 4 + [2.0] * 2


def test_limiter_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0, 10)

