"""BNR exchange-rate feed: parsing, lookup and the HTTP client."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import httpx
import pytest

from punte.fx.bnr import (
    BnrClient,
    BnrFeedError,
    expected_publication,
    latest_expected_publication,
    parse_bnr_xml,
    rate_on,
)

OLD_NS = "http://www.bnr.ro/xsd"
NEW_NS = "https://www.bnr.ro/xsd"


def bnr_xml(cubes: dict[str, list[tuple[str, str, int | None]]], ns: str = NEW_NS) -> bytes:
    """Build a BNR-shaped file: ``{date: [(currency, value, multiplier or None)]}``."""
    parts = []
    for day, rates in cubes.items():
        rate_xml = "".join(
            f'<Rate currency="{code}"'
            + (f' multiplier="{mult}"' if mult is not None else "")
            + f">{value}</Rate>"
            for code, value, mult in rates
        )
        parts.append(f'<Cube date="{day}">{rate_xml}</Cube>')
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<DataSet xmlns="{ns}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<Header><Publisher>National Bank of Romania</Publisher>"
        "<PublishingDate>2026-11-20</PublishingDate><MessageType>DR</MessageType></Header>"
        f"<Body><Subject>Reference rates</Subject><OrigCurrency>RON</OrigCurrency>{''.join(parts)}"
        "</Body></DataSet>"
    ).encode()


DAILY_RATES = [
    ("EUR", "5.0912", None),
    ("USD", "4.4050", None),
    ("HUF", "1.3180", 100),
    ("JPY", "2.9123", 100),
]
DAILY = {"2026-11-20": DAILY_RATES}
YEARLY = {
    "2026-11-18": [("EUR", "5.0890", None), ("HUF", "1.3150", 100)],
    "2026-11-19": [("EUR", "5.0901", None), ("HUF", "1.3170", 100)],
    "2026-11-20": [("EUR", "5.0912", None), ("HUF", "1.3180", 100)],
    "2026-11-23": [("EUR", "5.0930", None), ("HUF", "1.3200", 100)],
}
HTML_PAGE = b"<!DOCTYPE html><html><body><h1>Site in mentenanta</h1></body></html>"


# ------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize("ns", [OLD_NS, NEW_NS])
def test_daily_file_parses_in_either_namespace(ns: str) -> None:
    rates = parse_bnr_xml(bnr_xml(DAILY, ns))
    assert rates == {
        date(2026, 11, 20): {
            "EUR": Decimal("5.0912"),
            "USD": Decimal("4.4050"),
            "HUF": Decimal("0.013180"),
            "JPY": Decimal("0.029123"),
        }
    }


def test_multiplier_gives_exact_decimal_per_one_unit() -> None:
    huf = parse_bnr_xml(bnr_xml(DAILY))[date(2026, 11, 20)]["HUF"]
    assert isinstance(huf, Decimal)
    assert huf * 100 == Decimal("1.3180")
    assert str(huf) == "0.01318"


def test_file_without_namespace_parses() -> None:
    data = bnr_xml(DAILY).replace(f' xmlns="{NEW_NS}"'.encode(), b"")
    assert parse_bnr_xml(data)[date(2026, 11, 20)]["EUR"] == Decimal("5.0912")


def test_yearly_file_gives_one_entry_per_cube() -> None:
    rates = parse_bnr_xml(bnr_xml(YEARLY, OLD_NS))
    assert sorted(rates) == [date(2026, 11, 18), date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 23)]
    assert rates[date(2026, 11, 19)]["EUR"] == Decimal("5.0901")
    assert rates[date(2026, 11, 23)]["HUF"] == Decimal("0.0132")


def test_html_page_is_a_feed_error() -> None:
    with pytest.raises(BnrFeedError, match="HTML"):
        parse_bnr_xml(HTML_PAGE)


def test_empty_body_is_a_feed_error() -> None:
    with pytest.raises(BnrFeedError, match="empty"):
        parse_bnr_xml(b"  \n")


def test_malformed_xml_is_a_feed_error() -> None:
    with pytest.raises(BnrFeedError, match="malformed"):
        parse_bnr_xml(b"<DataSet><Body><Cube date='2026-11-20'>")


def test_wrong_root_is_a_feed_error() -> None:
    with pytest.raises(BnrFeedError, match="root element"):
        parse_bnr_xml(b"<Rates><Cube date='2026-11-20'/></Rates>")


def test_file_without_cubes_is_a_feed_error() -> None:
    with pytest.raises(BnrFeedError, match="no Cube"):
        parse_bnr_xml(bnr_xml({}))


def test_cube_without_rates_is_a_feed_error() -> None:
    with pytest.raises(BnrFeedError, match="no rates"):
        parse_bnr_xml(bnr_xml({"2026-11-20": []}))


def test_non_numeric_rate_is_a_feed_error() -> None:
    with pytest.raises(BnrFeedError, match="EUR on 2026-11-20"):
        parse_bnr_xml(bnr_xml({"2026-11-20": [("EUR", "n/a", None)]}))


def test_bad_multiplier_is_a_feed_error() -> None:
    with pytest.raises(BnrFeedError, match="multiplier"):
        parse_bnr_xml(bnr_xml({"2026-11-20": [("HUF", "1.3180", 0)]}))


# ------------------------------------------------------------------------------------- rate_on


def test_rate_on_a_publication_day_uses_that_day() -> None:
    rates = parse_bnr_xml(bnr_xml(YEARLY))
    assert rate_on(rates, "EUR", date(2026, 11, 19)) == (date(2026, 11, 19), Decimal("5.0901"))


def test_rate_on_a_weekend_uses_friday_publication() -> None:
    rates = parse_bnr_xml(bnr_xml(YEARLY))
    friday = (date(2026, 11, 20), Decimal("5.0912"))
    assert rate_on(rates, "EUR", date(2026, 11, 21)) == friday
    assert rate_on(rates, "eur", date(2026, 11, 22)) == friday


def test_rate_on_monday_after_weekend_uses_monday_publication() -> None:
    rates = parse_bnr_xml(bnr_xml(YEARLY))
    assert rate_on(rates, "HUF", date(2026, 11, 23)) == (date(2026, 11, 23), Decimal("0.0132"))


def test_rate_on_ron_is_one_on_the_day_itself() -> None:
    assert rate_on({}, "RON", date(2026, 11, 22)) == (date(2026, 11, 22), Decimal(1))


def test_rate_on_before_first_publication_is_none() -> None:
    rates = parse_bnr_xml(bnr_xml(YEARLY))
    assert rate_on(rates, "EUR", date(2026, 11, 17)) is None


def test_rate_on_currency_missing_from_latest_publication_is_none() -> None:
    rates = parse_bnr_xml(bnr_xml(YEARLY))
    assert rate_on(rates, "USD", date(2026, 11, 20)) is None


# ------------------------------------------------------------------------------ publication time


def test_latest_expected_publication_is_previous_day_before_13_bucharest() -> None:
    # 11:00 UTC = 13:00 Bucharest (EET, winter) on Friday 20 Nov 2026: not yet due with the grace.
    now = datetime(2026, 11, 20, 11, 0, tzinfo=timezone.utc)
    assert latest_expected_publication(now) == date(2026, 11, 19)


def test_latest_expected_publication_is_today_after_publication_time() -> None:
    now = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)  # 14:00 Bucharest
    assert latest_expected_publication(now) == date(2026, 11, 20)


def test_latest_expected_publication_on_holiday_is_last_working_day() -> None:
    now = datetime(2026, 12, 25, 15, 0, tzinfo=timezone.utc)
    assert latest_expected_publication(now) == date(2026, 12, 24)
    assert not expected_publication(date(2026, 12, 25), now)


def test_latest_expected_publication_refuses_naive_time() -> None:
    with pytest.raises(ValueError):
        latest_expected_publication(datetime(2026, 11, 20, 14, 0))


# ------------------------------------------------------------------------------------- client


class Server:
    """A MockTransport handler that serves queued responses per path and records requests."""

    def __init__(self, routes: dict[str, list[httpx.Response]]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.routes.get(request.url.path)
        if not queue:
            return httpx.Response(404, text="not found")
        return queue.pop(0) if len(queue) > 1 else queue[0]


def make_client(server: Server, sleeps: list[float] | None = None) -> BnrClient:
    recorded = sleeps if sleeps is not None else []
    return BnrClient(
        base_url="https://bnr.test/",
        transport=httpx.MockTransport(server),
        sleep=recorded.append,
    )


def xml_response(body: bytes) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"Content-Type": "text/xml"})


def test_client_fetches_and_parses_daily_file() -> None:
    server = Server({"/nbrfxrates.xml": [xml_response(bnr_xml(DAILY))]})
    with make_client(server) as client:
        rates = client.fetch_daily()
    assert rates[date(2026, 11, 20)]["JPY"] == Decimal("0.029123")
    assert str(server.requests[0].url) == "https://bnr.test/nbrfxrates.xml"


def test_client_fetches_yearly_file_by_year() -> None:
    server = Server({"/files/xml/years/nbrfxrates2026.xml": [xml_response(bnr_xml(YEARLY, OLD_NS))]})
    with make_client(server) as client:
        rates = client.fetch_year(2026)
    assert len(rates) == 4


def test_client_refuses_yearly_file_with_other_years_dates() -> None:
    server = Server({"/files/xml/years/nbrfxrates2025.xml": [xml_response(bnr_xml(YEARLY))]})
    with make_client(server) as client, pytest.raises(BnrFeedError, match="outside 2025"):
        client.fetch_year(2025)


def test_client_retries_a_503_then_succeeds() -> None:
    server = Server(
        {"/nbrfxrates.xml": [httpx.Response(503, text="busy"), xml_response(bnr_xml(DAILY))]}
    )
    sleeps: list[float] = []
    with make_client(server, sleeps) as client:
        rates = client.fetch_daily()
    assert date(2026, 11, 20) in rates
    assert len(server.requests) == 2
    assert sleeps == [0.5]


def test_client_gives_up_after_three_5xx_tries() -> None:
    server = Server({"/nbrfxrates.xml": [httpx.Response(502)]})
    sleeps: list[float] = []
    with make_client(server, sleeps) as client, pytest.raises(BnrFeedError, match="3 tries") as err:
        client.fetch_daily()
    assert len(server.requests) == 3
    assert sleeps == [0.5, 1.0]
    assert err.value.status_code == 502


def test_client_does_not_retry_a_404() -> None:
    server = Server({})
    sleeps: list[float] = []
    with make_client(server, sleeps) as client, pytest.raises(BnrFeedError, match="404") as err:
        client.fetch_year(2031)
    assert len(server.requests) == 1
    assert sleeps == []
    assert err.value.status_code == 404


def test_client_retries_a_timeout() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        return xml_response(bnr_xml(DAILY))

    transport = httpx.MockTransport(handler)
    with BnrClient(base_url="https://bnr.test", transport=transport, sleep=lambda s: None) as client:
        assert date(2026, 11, 20) in client.fetch_daily()
    assert len(calls) == 2


def test_client_reports_html_maintenance_page_as_feed_error() -> None:
    page = httpx.Response(200, content=HTML_PAGE, headers={"Content-Type": "text/html"})
    server = Server({"/nbrfxrates.xml": [page]})
    with make_client(server) as client, pytest.raises(BnrFeedError, match="HTML"):
        client.fetch_daily()
    assert len(server.requests) == 1


def test_client_uses_explicit_timeouts() -> None:
    seen: list[dict[str, float | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return xml_response(bnr_xml(DAILY))

    with BnrClient(transport=httpx.MockTransport(handler), timeout=4.0) as client:
        client.fetch_daily()
    assert seen == [{"connect": 4.0, "read": 4.0, "write": 4.0, "pool": 4.0}]
