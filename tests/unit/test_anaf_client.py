"""The ANAF client on ANAF's real answer shapes: sniffing, typed results, typed errors, limits, OAuth."""

from __future__ import annotations

import base64
import io
import json
import time
import zipfile
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from punte.efactura.anaf.answers import parse_finding, read_zip, sniff
from punte.efactura.anaf.client import AnafClient, RequestPacer
from punte.efactura.anaf.errors import (
    AnafDuplicateUpload,
    AnafLimitReached,
    AnafPermanentError,
    AnafTransientError,
    AnafUnauthorized,
    AnafUnknownOutcome,
    AnafUploadRejected,
)
from punte.efactura.anaf.oauth import OAuthClient, OAuthInvalidGrant, OAuthTransientError, jwt_claims

BASE = "https://api.anaf.ro/prod/FCTEL/rest/"
UPLOAD_OK = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<header xmlns="mfp:anaf:dgti:spv:'
             b'respUploadFisier:v1" dateResponse="202501141140" ExecutionStatus="0" index_incarcare="5001130147"/>')
UPLOAD_ERROR = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<header xmlns="mfp:anaf:dgti:spv:'
                b'respUploadFisier:v1" dateResponse="202501141144" ExecutionStatus="1">\n    <Errors errorMessage='
                b'"Fisierul transmis nu este valid. org.xml.sax.SAXParseException; lineNumber: 1; columnNumber: 1; '
                b'Content is not allowed in prolog. "/>\n</header>')
MAINTENANCE = b"<!DOCTYPE html>\n<html><head><title>Mentenanta</title></head><body>Revenim</body></html>"
REJECTED = (b"<html><head><title>Request Rejected</title></head><body>The requested URL was rejected. Please "
            b"consult with your administrator.<br><br>Your support ID is: 1234</body></html>")
XML_INVOICE = b'<?xml version="1.0"?><Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>'


def stare(attrs: str = "", errors: str = "") -> bytes:
    body = f"<Errors errorMessage={json.dumps(errors)}/>" if errors else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><header xmlns="mfp:anaf:dgti:efactura:stareMesajFactura:v1"'
            f' {attrs}>{body}</header>').encode()


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


class Recorder:
    """An httpx MockTransport handler answering from a list, recording each request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def client(*answers: httpx.Response | Exception, **kw) -> tuple[AnafClient, Recorder]:  # type: ignore[no-untyped-def]
    rec = Recorder(*answers)
    return AnafClient(BASE, access_token="tok", transport=httpx.MockTransport(rec), pacer=None, **kw), rec


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (UPLOAD_OK, "xml"), (b"\xef\xbb\xbf  <header/>", "xml"), (b"PK\x03\x04rest", "zip"), (b"%PDF-1.4", "pdf"),
        (b'  {"eroare": "x"}', "json"), (MAINTENANCE, "html"), (REJECTED, "html"),
        (b'<?xml version="1.0"?>\n<!DOCTYPE html><html></html>', "html"), (b"Serviciul nu este disponibil", "text"),
        (b"", "empty"),
    ],
)
def test_bodies_are_sniffed_by_their_first_bytes(body: bytes, kind: str) -> None:
    assert sniff(body) == kind


def test_upload_sends_the_xml_with_numeric_cif_and_returns_the_index() -> None:
    c, rec = client(httpx.Response(200, content=UPLOAD_OK))
    result = c.upload(XML_INVOICE, "RO18547290", standard="UBL", extern=True)
    assert result.index == "5001130147" and result.date_response == "202501141140"
    sent = rec.requests[0]
    assert sent.url.path == "/prod/FCTEL/rest/upload"
    assert dict(sent.url.params) == {"standard": "UBL", "cif": "18547290", "extern": "DA"}
    assert sent.headers["authorization"] == "Bearer tok" and sent.content == XML_INVOICE


def test_upload_b2c_goes_to_uploadb2c() -> None:
    c, rec = client(httpx.Response(200, content=UPLOAD_OK))
    c.upload_b2c(XML_INVOICE, "18547290", standard="CN")
    assert rec.requests[0].url.path.endswith("/uploadb2c") and rec.requests[0].url.params["standard"] == "CN"


def test_upload_error_answer_is_a_permanent_rejection_with_anafs_text() -> None:
    c, _ = client(httpx.Response(200, content=UPLOAD_ERROR))
    with pytest.raises(AnafUploadRejected) as info:
        c.upload(XML_INVOICE, "18547290")
    assert "Content is not allowed in prolog" in info.value.errors[0]
    assert not isinstance(info.value, AnafDuplicateUpload)


def test_duplicate_upload_answer_carries_the_earlier_index() -> None:
    body = UPLOAD_ERROR.replace(b"Fisierul transmis nu este valid.", b"Factura a mai fost transmisa anterior cu "
                                b"index=5001120366 si data incarcare=2025-01-10.")
    c, _ = client(httpx.Response(200, content=body))
    with pytest.raises(AnafDuplicateUpload) as info:
        c.upload(XML_INVOICE, "18547290")
    assert info.value.previous_index == "5001120366"


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(500, json={"status": 500, "error": "Internal Server Error"}),
        httpx.Response(504, text="Gateway Timeout"),
        httpx.Response(200, content=MAINTENANCE),
        httpx.Response(200, text="Serviciul nu este disponibil momentan."),
        httpx.ReadTimeout("read timed out"),
        httpx.RemoteProtocolError("server disconnected"),
    ],
)
def test_upload_without_an_answer_from_anaf_is_an_unknown_outcome(answer) -> None:  # type: ignore[no-untyped-def]
    c, _ = client(answer)
    with pytest.raises(AnafUnknownOutcome):
        c.upload(XML_INVOICE, "18547290")


@pytest.mark.parametrize("answer", [httpx.ConnectError("refused"), httpx.ConnectTimeout("connect timed out")])
def test_upload_that_never_left_is_only_transient(answer) -> None:  # type: ignore[no-untyped-def]
    c, _ = client(answer)
    with pytest.raises(AnafTransientError) as info:
        c.upload(XML_INVOICE, "18547290")
    assert not isinstance(info.value, AnafUnknownOutcome)


def test_429_is_transient_with_the_servers_back_off_hint() -> None:
    c, _ = client(httpx.Response(429, headers={"Retry-After": "17"}, text="Too Many Requests"))
    with pytest.raises(AnafTransientError) as info:
        c.upload(XML_INVOICE, "18547290")
    assert not isinstance(info.value, AnafUnknownOutcome) and info.value.retry_after == 17


def test_retry_after_as_an_http_date() -> None:
    when = (datetime.now(UTC) + timedelta(seconds=120)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    c, _ = client(httpx.Response(503, headers={"Retry-After": when}))
    with pytest.raises(AnafTransientError) as info:
        c.stare_mesaj("1")
    assert 100 < info.value.retry_after <= 121


@pytest.mark.parametrize(
    ("attrs", "stare", "download"),
    [
        ('stare="ok" id_descarcare="3001293434"', "ok", "3001293434"),
        ('stare="in prelucrare"', "in prelucrare", None),
        ('stare="nok" id_descarcare="3001293435"', "nok", "3001293435"),
        ('stare="XML cu erori nepreluat de sistem"', "XML cu erori nepreluat de sistem", None),
    ],
)
def test_stare_mesaj_answers(attrs: str, stare: str, download: str | None) -> None:
    c, rec = client(httpx.Response(200, content=globals()["stare"](attrs)))
    answer = c.stare_mesaj("5001130147")
    assert answer.stare == stare and answer.download_id == download
    assert rec.requests[0].url.params["id_incarcare"] == "5001130147"
    assert answer.ok == (stare == "ok") and answer.processing == (stare == "in prelucrare")
    assert answer.not_taken == stare.startswith("XML")


def test_stare_mesaj_error_is_permanent_and_anafs_daily_limit_is_a_limit() -> None:
    c, _ = client(httpx.Response(200, content=stare(errors="Nu exista factura cu id_incarcare= 15000")))
    with pytest.raises(AnafPermanentError, match="Nu exista factura"):
        c.stare_mesaj("15000")
    c, _ = client(httpx.Response(200, content=stare(errors="S-au facut deja 100 descarcari de mesaj in cursul zilei")))
    with pytest.raises(AnafLimitReached) as info:
        c.stare_mesaj("15000")
    assert info.value.retry_at > datetime.now(UTC)


@pytest.mark.parametrize("page", [MAINTENANCE, REJECTED, b"plain text answer"])
def test_html_and_text_pages_are_transient(page: bytes) -> None:
    c, _ = client(httpx.Response(200, content=page))
    with pytest.raises(AnafTransientError) as info:
        c.stare_mesaj("1")
    assert info.value.retry_after >= 30


def test_401_is_unauthorized_but_a_firewall_403_page_is_transient() -> None:
    c, _ = client(httpx.Response(401, json={"error": "invalid_token"}))
    with pytest.raises(AnafUnauthorized):
        c.stare_mesaj("1")
    c, _ = client(httpx.Response(403, content=REJECTED))
    with pytest.raises(AnafTransientError):
        c.stare_mesaj("1")


def test_missing_parameter_400_is_permanent_with_anafs_message() -> None:
    c, _ = client(httpx.Response(400, json={"timestamp": "14-01-2025 11:40:00", "status": 400, "error": "Bad Request",
                                            "message": "Parametrul cif este obligatoriu"}))
    with pytest.raises(AnafPermanentError, match="Parametrul cif este obligatoriu"):
        c.lista_mesaje("18547290", 1)


MESSAGES = {
    "mesaje": [
        {"data_creare": "202501141415", "cif": "18547290", "id_solicitare": "5001130147",
         "detalii": "Factura cu id_incarcare=5001130147 emisa de cif_emitent=18547290 pentru cif_beneficiar=14399840",
         "tip": "FACTURA TRIMISA", "id": "3001293434"},
        {"data_creare": "202501141416", "cif": "18547290", "id_solicitare": "5001130148",
         "detalii": "Erori de validare identificate la factura primita cu id_incarcare=5001130148",
         "tip": "ERORI FACTURA", "id": "3001293435"},
    ],
    "serial": "1234AA456", "cui": "18547290", "titlu": "Lista Mesaje disponibile din ultimele 1 zile",
}


def test_message_list_is_parsed_into_typed_messages() -> None:
    c, rec = client(httpx.Response(200, json=MESSAGES))
    messages = c.lista_mesaje("RO18547290", 1, filtru="T")
    assert dict(rec.requests[0].url.params) == {"zile": "1", "cif": "18547290", "filtru": "T"}
    first = messages[0]
    assert first.is_sent_invoice and first.id == "3001293434" and first.id_solicitare == "5001130147"
    assert first.seller_cif == "18547290" and first.buyer_cif == "14399840"
    assert first.data_creare == datetime(2025, 1, 14, 14, 15)
    assert messages[1].is_error


def test_no_messages_is_an_empty_list_and_other_list_errors_are_permanent() -> None:
    c, _ = client(httpx.Response(200, json={"eroare": "Nu exista mesaje in ultimele 1 zile", "titlu": "Lista Mesaje"}))
    assert c.lista_mesaje("18547290", 1) == []
    c, _ = client(httpx.Response(200, json={"eroare": "Numarul de zile introdus este mai mare de 60",
                                            "titlu": "Lista Mesaje"}))
    with pytest.raises(AnafPermanentError, match="mai mare de 60"):
        c.lista_mesaje("18547290", 1)


def test_paginated_list_iterates_every_page() -> None:
    def page(n: int, ids: list[str]) -> httpx.Response:
        return httpx.Response(200, json={
            "mesaje": [{**MESSAGES["mesaje"][0], "id": i, "id_solicitare": f"5{i}"} for i in ids],
            "numar_inregistrari_in_pagina": len(ids), "numar_total_inregistrari_per_pagina": 500,
            "numar_total_inregistrari": 5, "numar_total_pagini": 3, "index_pagina_curenta": n,
            "serial": "x", "cui": "18547290", "titlu": "Lista Mesaje"})

    c, rec = client(page(1, ["1", "2"]), page(2, ["3", "4"]), page(3, ["5"]))
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ids = [m.id for m in c.lista_mesaje_paginatie("18547290", start, start + timedelta(days=1))]
    assert ids == ["1", "2", "3", "4", "5"]
    assert [r.url.params["pagina"] for r in rec.requests] == ["1", "2", "3"]
    assert rec.requests[0].url.params["startTime"] == str(int(start.timestamp() * 1000))


def test_paginated_list_stops_when_anaf_says_the_page_is_past_the_end() -> None:
    first = httpx.Response(200, json={"mesaje": MESSAGES["mesaje"], "titlu": "Lista"})
    past = httpx.Response(200, json={"eroare": "Pagina solicitata 2 este mai mare decat numarul total de pagini 1",
                                     "titlu": "Lista"})
    c, _ = client(first, past)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    assert len(list(c.lista_mesaje_paginatie("18547290", start, start + timedelta(hours=1)))) == 2


def test_download_returns_the_zip_and_json_errors_are_typed() -> None:
    data = zip_of({"5001130147.xml": XML_INVOICE, "semnatura_5001130147.xml": b"<Signature/>"})
    c, rec = client(httpx.Response(200, content=data, headers={"content-type": "application/octet-stream"}))
    assert c.descarcare("3001293434") == data and rec.requests[0].url.params["id"] == "3001293434"
    c, _ = client(httpx.Response(200, json={"eroare": "Pentru id=1 nu exista inregistrata nici o factura",
                                            "titlu": "Descarcare mesaj"}))
    with pytest.raises(AnafPermanentError, match="nu exista inregistrata"):
        c.descarcare("1")
    c, _ = client(httpx.Response(200, json={"eroare": "S-au facut deja 10 descarcari la mesajul cu "
                                            "id_descarcare=1 in cursul zilei", "titlu": "Descarcare mesaj"}))
    with pytest.raises(AnafLimitReached):
        c.descarcare("1")


class CountingBudget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used: dict[tuple[str, str], int] = {}

    def spend(self, call: str, key: str) -> None:
        n = self.used.get((call, key), 0)
        if n >= self.limit:
            raise AnafLimitReached("spent", retry_at=datetime.now(UTC) + timedelta(hours=1))
        self.used[(call, key)] = n + 1


def test_budget_is_asked_before_each_limited_call_and_stops_the_call() -> None:
    budget = CountingBudget(2)
    c, rec = client(httpx.Response(200, content=stare('stare="in prelucrare"')), budget=budget)
    c.stare_mesaj("7")
    c.stare_mesaj("7")
    with pytest.raises(AnafLimitReached):
        c.stare_mesaj("7")
    assert len(rec.requests) == 2
    c.stare_mesaj("8")  # counted per message


def test_validation_and_pdf() -> None:
    c, rec = client(httpx.Response(200, json={"stare": "nok", "Messages": [
        {"message": "E: validari globale eroare: [BR-RO-100]-Cod judet invalid"}], "trace_id": "abc"}))
    result = c.validare(XML_INVOICE)
    assert not result.ok and result.findings[0].rule == "BR-RO-100" and result.findings[0].text == "Cod judet invalid"
    assert rec.requests[0].url.path.endswith("/validare/FACT1")
    assert rec.requests[0].headers["content-type"] == "text/plain"
    c, rec = client(httpx.Response(200, content=b"%PDF-1.4 fake"))
    assert c.transformare(XML_INVOICE, validate=False).startswith(b"%PDF")
    assert rec.requests[0].url.path.endswith("/transformare/FACT1/DA")
    c, _ = client(httpx.Response(200, json={"stare": "nok", "Messages": [{"message": "[BR-01] lipsa"}]}))
    with pytest.raises(AnafPermanentError, match="BR-01"):
        c.transformare(XML_INVOICE)
    c, _ = client(httpx.Response(404, text="Not Found"))
    with pytest.raises(AnafPermanentError):
        c.validare(XML_INVOICE)


def test_error_zip_is_read_into_rule_ids_and_texts() -> None:
    errors = (b'<?xml version="1.0" encoding="UTF-8"?><header xmlns="mfp:anaf:dgti:efactura:mesajEroriFactuta:v1" '
              b'Index_incarcare="5001130148" Cif_emitent="18547290"><Error errorMessage="E: validari globale  '
              b'eroare: [BR-RO-100]-Daca Codul tarii vanzatorului (BT-40) este RO, atunci Subdiviziunea tarii '
              b'(BT-39) trebuie sa fie codificata"/><Error errorMessage="E: validari globale&#10; eroare regula: '
              b'R6.1: CIF-ul vanzatorului nu figureaza in baza de date:1"/></header>')
    content = read_zip(zip_of({"5001130148.xml": errors, "semnatura_5001130148.xml": b"<Signature/>"}))
    assert content.is_error and content.invoice_xml is None and content.error_index == "5001130148"
    assert [f.rule for f in content.errors] == ["BR-RO-100", "R6.1"]
    assert content.errors[0].text.startswith("Daca Codul tarii vanzatorului")
    ok = read_zip(zip_of({"5001130147.xml": XML_INVOICE, "semnatura_5001130147.xml": b"<Signature/>"}))
    assert ok.invoice_xml == XML_INVOICE and ok.signature_name == "semnatura_5001130147.xml" and not ok.is_error
    with pytest.raises(AnafPermanentError):
        read_zip(b"not a zip")


def test_finding_without_a_rule_keeps_its_text() -> None:
    finding = parse_finding("E: Fisierul nu a putut fi procesat")
    assert finding.rule is None and finding.text == "Fisierul nu a putut fi procesat"


def test_pacer_refuses_past_its_allowance() -> None:
    pacer = RequestPacer(calls=2, seconds=60)
    pacer.take()
    pacer.take()
    with pytest.raises(AnafTransientError) as info:
        pacer.take()
    assert 0 < info.value.retry_after <= 60


# -- OAuth ----------------------------------------------------------------------------------------------
def jwt(claims: dict) -> str:  # type: ignore[type-arg]
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    return f"{b64(b'{}')}.{b64(json.dumps(claims).encode())}.sig"


def test_token_exchange_reads_expiries_from_the_jwts() -> None:
    now = int(time.time())
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={
            "access_token": jwt({"sub": "holder-1", "exp": now + 90 * 86400}),
            "refresh_token": jwt({"sub": "holder-1", "exp": now + 365 * 86400}),
            "token_type": "Bearer", "expires_in": 7776000})

    oauth = OAuthClient("https://logincert.anaf.ro/anaf-oauth2/v1", "cid", "secret", "https://p/anaf/callback",
                        transport=httpx.MockTransport(answer))
    tokens = oauth.exchange_code("the-code")
    assert tokens.subject == "holder-1"
    assert tokens.access_expires_at == datetime.fromtimestamp(now + 90 * 86400, UTC)
    assert tokens.refresh_expires_at == datetime.fromtimestamp(now + 365 * 86400, UTC)
    request = seen[0]
    assert request.url.path.endswith("/token")
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"cid:secret").decode()
    form = dict(x.split("=", 1) for x in request.content.decode().split("&"))
    assert form["grant_type"] == "authorization_code" and form["code"] == "the-code"
    assert form["token_content_type"] == "jwt"
    url = oauth.authorize_url("st8")
    assert url.startswith("https://logincert.anaf.ro/anaf-oauth2/v1/authorize?response_type=code&client_id=cid")
    assert "token_content_type=jwt" in url and "state=st8" in url


def test_refused_refresh_token_and_server_trouble_are_told_apart() -> None:
    oauth = OAuthClient("https://x/anaf-oauth2/v1", "cid", "s", "https://p/cb", transport=httpx.MockTransport(
        lambda r: httpx.Response(400, json={"error": "invalid_grant", "error_description": "Token expired"})))
    with pytest.raises(OAuthInvalidGrant, match="Token expired"):
        oauth.refresh("old")
    oauth = OAuthClient("https://x/anaf-oauth2/v1", "cid", "s", "https://p/cb", transport=httpx.MockTransport(
        lambda r: httpx.Response(200, content=MAINTENANCE)))
    with pytest.raises(OAuthTransientError):
        oauth.refresh("old")


def test_jwt_claims_of_a_non_jwt_is_empty() -> None:
    assert jwt_claims("opaque-token") == {}
    assert jwt_claims(jwt({"exp": 5}))["exp"] == 5
