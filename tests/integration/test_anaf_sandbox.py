"""The offline ANAF sandbox, spoken to over real HTTP exactly as ANAF is (plain httpx, no punte client)."""

from __future__ import annotations

import base64
import io
import itertools
import json
import re
import threading
import time
import zipfile
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from lxml import etree

from punte.config import Settings
from punte.domain.documents import IssuedDocument, Party, ProductInput, compute_lines, summarize
from punte.domain.vat import default_rates, find_rate
from punte.efactura.sandbox import SignatureError, verify_signature
from punte.efactura.sandbox.clock import bucharest_day
from punte.efactura.ubl import build_ubl
from punte.store.db import Database
from tests.anaf_sandbox_fixtures import *  # noqa: F403
from tests.anaf_sandbox_fixtures import BUNDLE, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, AnafLive
from tests.conftest import IN_CI

SELLER = "18547290"
BUYER = "14399840"
SELLER_PARTY = Party(name="Firma Test SRL", cif=f"RO{SELLER}", reg_com="J12/1234/2020",
                     address="Str. Memorandumului 28", city="Cluj-Napoca", county="Cluj",
                     iban="RO49AAAA1B31007593840000", is_tax_payer=True)
COMPANY_BUYER = Party(name="Client SRL", cif=f"RO{BUYER}", address="Str. Lunga 1", city="Brasov", county="Brasov",
                      is_tax_payer=True)
PERSON_BUYER = Party(name="Ion Popescu", cif="", address="Str. Florilor 3", city="Iasi", county="Iasi")
R21 = find_rate(default_rates(), date.today(), name="Normala", percentage=None, product="x")
_NUMBERS = itertools.count(1)
NS_UPLOAD = "mfp:anaf:dgti:spv:respUploadFisier:v1"
NS_STATUS = "mfp:anaf:dgti:efactura:stareMesajFactura:v1"
NS_ERRORS = "mfp:anaf:dgti:efactura:mesajEroriFactuta:v1"


def require_rules() -> None:
    if BUNDLE.is_file():
        return
    if IN_CI:
        pytest.fail(f"required in CI: {BUNDLE}")
    pytest.skip(f"ANAF's rules not found at {BUNDLE}")


def issue_invoice(buyer: Party | None = None, price: str = "100") -> bytes:
    """A fresh invoice (a new number each call) of RO18547290: punte's arithmetic and punte's UBL writer."""
    lines = compute_lines([ProductInput(name="Servicii de consultanta", quantity=Decimal(2), price=Decimal(price),
                                        unit="ora", rate=R21, is_service=True)],
                          currency="RON", precision=2, vat_payer=True)
    doc = IssuedDocument(id=1, kind="invoice", series="FCT", number=f"{next(_NUMBERS):04d}", issue_date=date.today(),
                         currency="RON", seller=SELLER_PARTY, buyer=buyer or COMPANY_BUYER, lines=lines,
                         totals=summarize(lines, currency="RON"), seller_vat_payer=True)
    return build_ubl(doc)


def upload(live: AnafLive, xml: bytes, headers: dict[str, str], *, env: str = "test", path: str = "upload",
           **params: str) -> tuple[httpx.Response, int | None]:
    query = {"standard": "UBL", "cif": SELLER, **params}
    response = httpx.post(live.api_url(env) + path, params=query, content=xml,
                          headers={**headers, "Content-Type": "text/plain"}, timeout=20)
    match = re.search(rb'index_incarcare="(\d+)"', response.content)
    return response, int(match.group(1)) if match else None


def stare(live: AnafLive, index: int | str, headers: dict[str, str], env: str = "test") -> etree._Element:
    response = httpx.get(live.api_url(env) + "stareMesaj", params={"id_incarcare": str(index)}, headers=headers,
                         timeout=20)
    assert response.status_code == 200, response.text
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{NS_STATUS}}}header"
    return root


def error_of(root: etree._Element) -> str | None:
    errors = root.findall("{*}Errors")
    return errors[0].get("errorMessage") if errors else None


def download(live: AnafLive, download_id: int | str, headers: dict[str, str], env: str = "test") -> httpx.Response:
    return httpx.get(live.api_url(env) + "descarcare", params={"id": str(download_id)}, headers=headers, timeout=20)


def messages(live: AnafLive, cif: str, headers: dict[str, str], env: str = "test", **params: str) -> dict[str, Any]:
    response = httpx.get(live.api_url(env) + "listaMesajeFactura", params={"zile": "10", "cif": cif, **params},
                         headers=headers, timeout=20)
    assert response.status_code == 200, response.text
    return dict(response.json())


def certificate(live: AnafLive) -> bytes:
    return httpx.get(live.certificate_url, timeout=10).content


def jwt_claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def authorize(live: AnafLive, client: httpx.Client, **extra: str) -> str:
    params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "state": "xyz",
              "token_content_type": "jwt", **extra}
    response = client.get(f"{live.oauth_url}/authorize", params=params)
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert response.headers["location"].startswith(REDIRECT_URI + "?")
    assert query["state"] == ["xyz"]
    return query["code"][0]


def exchange(live: AnafLive, client: httpx.Client, code: str, secret: str = CLIENT_SECRET,
             redirect_uri: str = REDIRECT_URI) -> httpx.Response:
    return client.post(f"{live.oauth_url}/token", auth=(CLIENT_ID, secret), data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "token_content_type": "jwt"})


# -- OAuth ------------------------------------------------------------------------------------------


def test_oauth_code_is_exchanged_once_and_refresh_tokens_rotate(anaf_live: AnafLive) -> None:
    with httpx.Client(timeout=10) as client:
        code = authorize(anaf_live, client)
        first = exchange(anaf_live, client, code)  # the first token call of an unregistered client fixes its secret
        assert first.status_code == 200
        assert exchange(anaf_live, client, code).json()["error"] == "invalid_grant"  # a code works once
        refused = exchange(anaf_live, client, authorize(anaf_live, client), secret="another-secret")
        assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
        answer = exchange(anaf_live, client, authorize(anaf_live, client)).json()

        now = time.time()
        access, refresh = jwt_claims(answer["access_token"]), jwt_claims(answer["refresh_token"])
        assert answer["token_type"] == "Bearer" and answer["expires_in"] == 90 * 86400
        assert abs(access["exp"] - (now + 90 * 86400)) < 60 and abs(refresh["exp"] - (now + 365 * 86400)) < 60
        assert access["sub"] == "SANDBOX" and access["client_id"] == CLIENT_ID

        def refresh_with(token: str) -> httpx.Response:
            return client.post(f"{anaf_live.oauth_url}/token", auth=(CLIENT_ID, CLIENT_SECRET),
                               data={"grant_type": "refresh_token", "refresh_token": token})

        rotated = refresh_with(answer["refresh_token"])
        assert rotated.status_code == 200
        new = rotated.json()
        assert new["refresh_token"] != answer["refresh_token"] and new["access_token"] != answer["access_token"]
        old_again = refresh_with(answer["refresh_token"])
        assert old_again.status_code == 400 and old_again.json()["error"] == "invalid_grant"
        assert refresh_with(new["refresh_token"]).status_code == 200
        assert refresh_with("not-a-token").json()["error"] == "invalid_grant"
        assert client.post(f"{anaf_live.oauth_url}/token", auth=(CLIENT_ID, CLIENT_SECRET),
                           data={"grant_type": "password"}).json()["error"] == "unsupported_grant_type"
        for token in (answer["access_token"], new["access_token"]):  # both access tokens work on the API
            assert "Nu exista mesaje" in messages(anaf_live, SELLER, {"Authorization": f"Bearer {token}"})["eroare"]


def test_authorization_code_expires_after_60_seconds_and_needs_the_same_redirect_uri(anaf_live: AnafLive) -> None:
    with httpx.Client(timeout=10) as client:
        code = authorize(anaf_live, client)
        mismatch = exchange(anaf_live, client, code, redirect_uri="http://127.0.0.1/other")
        assert mismatch.status_code == 400 and mismatch.json()["error"] == "invalid_grant"
        assert exchange(anaf_live, client, code).status_code == 200  # the mismatch did not use the code
        late = authorize(anaf_live, client)
        anaf_live.sandbox.clock.advance(61)
        expired = exchange(anaf_live, client, late)
        assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"
        assert "expirat" in expired.json()["error_description"]
        assert client.get(f"{anaf_live.oauth_url}/authorize", params={"response_type": "code"}).status_code == 400


def test_registered_client_needs_its_secret_and_callback(anaf_live: AnafLive) -> None:
    anaf_live.sandbox.oauth.register_client("punte-app", "s3cret", [REDIRECT_URI])
    with httpx.Client(timeout=10) as client:
        other = client.get(f"{anaf_live.oauth_url}/authorize", params={
            "response_type": "code", "client_id": "punte-app", "redirect_uri": "https://evil.example/cb"})
        assert other.status_code == 400
        code = authorize(anaf_live, client, client_id="punte-app")
        body = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
        assert client.post(f"{anaf_live.oauth_url}/token", auth=("punte-app", "guess"), data=body).status_code == 401
        form = client.post(f"{anaf_live.oauth_url}/token", data={**body, "client_id": "punte-app",
                                                                 "client_secret": "s3cret"})
        assert form.status_code == 200 and form.json()["access_token"]


def test_api_needs_a_valid_unexpired_bearer_token(anaf_live: AnafLive) -> None:
    xml = issue_invoice()
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic dTpw"}):
        response, index = upload(anaf_live, xml, headers)
        assert response.status_code == 401 and index is None
    anaf_live.sandbox.oauth.access_token_lifetime = timedelta(seconds=30)
    headers = anaf_live.bearer()
    assert upload(anaf_live, xml, headers)[0].status_code == 200
    anaf_live.sandbox.clock.advance(31)
    assert upload(anaf_live, xml, headers)[0].status_code == 401
    assert len(anaf_live.sandbox.uploads()) == 1


# -- uploads and their processing ---------------------------------------------------------------------


def test_valid_invoice_is_processed_to_ok_with_a_signed_zip_of_the_uploaded_xml(anaf_live: AnafLive) -> None:
    sandbox = anaf_live.sandbox
    sandbox.processing_delay = 30
    xml = issue_invoice()
    headers = anaf_live.bearer()
    response, index = upload(anaf_live, xml, headers)
    root = etree.fromstring(response.content)
    assert root.tag == f"{{{NS_UPLOAD}}}header" and root.get("ExecutionStatus") == "0"
    assert re.fullmatch(r"\d{12}", root.get("dateResponse") or "") and index is not None

    first = stare(anaf_live, index, headers)
    assert first.get("stare") == "in prelucrare" and first.get("id_descarcare") is None
    sandbox.clock.advance(31)
    done = stare(anaf_live, index, headers)
    assert done.get("stare") == "ok"
    download_id = int(done.get("id_descarcare") or 0)

    answer = download(anaf_live, download_id, headers)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(answer.content)).namelist()
    assert sorted(names) == sorted([f"{index}.xml", f"semnatura_{index}.xml"])
    verified = verify_signature(answer.content, certificate(anaf_live))
    assert verified.trusted and verified.kind == "invoice" and verified.index == str(index)
    assert verified.document == xml

    sent = messages(anaf_live, SELLER, headers)["mesaje"]
    received = messages(anaf_live, BUYER, headers)["mesaje"]
    assert [(m["tip"], m["id"], m["id_solicitare"]) for m in sent] == [
        ("FACTURA TRIMISA", str(download_id), str(index))]
    assert [(m["tip"], m["cif"]) for m in received] == [("FACTURA PRIMITA", BUYER)]
    assert f"cif_emitent={SELLER} pentru cif_beneficiar={BUYER}" in received[0]["detalii"]
    assert verify_signature(download(anaf_live, received[0]["id"], headers).content).document == xml

    records = sandbox.uploads()
    assert len(records) == 1
    record = records[0]
    assert (record.index_incarcare, record.cif, record.env, record.standard, record.stare) == (
        index, SELLER, "test", "UBL", "ok")
    assert record.token_subject == "SANDBOX" and record.client_id == CLIENT_ID
    assert record.id_descarcare == download_id and record.invoice_number and record.invoice_number.startswith("FCT")


def test_invoice_breaking_a_rule_is_nok_with_the_rule_in_the_signed_error_xml(anaf_live: AnafLive) -> None:
    require_rules()
    xml = issue_invoice().replace(b"CIUS-RO:1.0.1", b"CIUS-RO:1.0.0")
    headers = anaf_live.bearer()
    index = upload(anaf_live, xml, headers)[1]
    root = stare(anaf_live, index or 0, headers)
    assert root.get("stare") == "nok"
    verified = verify_signature(download(anaf_live, root.get("id_descarcare") or "", headers).content,
                                certificate(anaf_live))
    assert verified.kind == "errors"
    errors = etree.fromstring(verified.document)
    assert errors.tag == f"{{{NS_ERRORS}}}header"
    assert errors.get("Index_incarcare") == str(index) and errors.get("Cif_emitent") == SELLER
    texts = [e.get("errorMessage") or "" for e in errors.findall(f"{{{NS_ERRORS}}}Error")]
    assert any(t.startswith("[BR-RO-001]-") for t in texts)
    listed = messages(anaf_live, SELLER, headers, filtru="E")["mesaje"]
    assert [m["tip"] for m in listed] == ["ERORI FACTURA"]
    assert "Nu exista mesaje" in messages(anaf_live, BUYER, headers)["eroare"]


def test_uploadb2c_is_recorded_as_b2c_and_gives_the_individual_no_message(anaf_live: AnafLive) -> None:
    xml = issue_invoice(PERSON_BUYER)
    headers = anaf_live.bearer()
    response, index = upload(anaf_live, xml, headers, path="uploadb2c")
    assert response.status_code == 200 and index is not None
    assert stare(anaf_live, index, headers).get("stare") == "ok"
    (record,) = anaf_live.sandbox.uploads()
    assert record.kind == "uploadb2c" and record.buyer_cif == "0000000000000"
    assert [m["tip"] for m in messages(anaf_live, SELLER, headers)["mesaje"]] == ["FACTURA TRIMISA"]


def test_the_same_invoice_sent_again_is_nok_naming_the_first_upload(anaf_live: AnafLive) -> None:
    xml = issue_invoice()
    headers = anaf_live.bearer()
    first = upload(anaf_live, xml, headers)[1]
    assert stare(anaf_live, first or 0, headers).get("stare") == "ok"
    second = upload(anaf_live, xml, headers)[1]
    root = stare(anaf_live, second or 0, headers)
    assert root.get("stare") == "nok"
    document = verify_signature(download(anaf_live, root.get("id_descarcare") or "", headers).content).document
    day = bucharest_day(anaf_live.sandbox.upload_record(first or 0).received_at)  # type: ignore[union-attr]
    texts = [e.get("errorMessage") for e in etree.fromstring(document).findall(f"{{{NS_ERRORS}}}Error")]
    assert f"Factura a mai fost transmisa anterior cu index={first} si data incarcare={day.isoformat()}" in texts
    other_env = upload(anaf_live, xml, headers, env="prod")[1]  # prod and test are separate systems
    assert stare(anaf_live, other_env or 0, headers, env="prod").get("stare") == "ok"
    assert [r.stare for r in anaf_live.sandbox.uploads()] == ["ok", "nok", "ok"]


def test_synchronous_upload_errors_record_nothing(anaf_live: AnafLive) -> None:
    xml = issue_invoice()
    headers = anaf_live.bearer()

    def error(body: bytes, **params: str) -> str:
        response, index = upload(anaf_live, body, headers, **params)
        assert response.status_code == 200 and index is None
        root = etree.fromstring(response.content)
        assert root.get("ExecutionStatus") == "1"
        return root.find(f"{{{NS_UPLOAD}}}Errors").get("errorMessage")  # type: ignore[union-attr]

    assert error(b"not xml at all").startswith("Fisierul transmis nu este valid. org.xml.sax.SAXParseException")
    assert "Content is not allowed in prolog." in error(b"not xml at all")
    assert "lineNumber" in error(b"<Invoice><cbc:ID>")
    assert error(xml, standard="PDF") == "Valorile acceptate pentru parametrul standard sunt UBL, CN, CII sau RASP"
    assert error(xml, cif="RO18547290") == "CIF introdus= RO18547290 nu este un numar"
    assert error(xml, cif="18547291") == "Nu aveti drept in SPV pentru CIF=18547291"
    assert error(xml, extern="NU") == "Valorile acceptate pentru parametrul extern sunt DA"
    anaf_live.sandbox.limits.upload_max_bytes = 1024 * 1024
    padded = xml + b"<!--" + b"x" * (1024 * 1024) + b"-->"
    assert error(padded) == "Marime fisier transmis mai mare de 1 MB."
    missing = httpx.post(anaf_live.api_url() + "upload", params={"standard": "UBL"}, content=xml, headers=headers)
    assert missing.status_code == 400 and missing.json()["message"] == "Parametrul cif este obligatoriu"
    assert anaf_live.sandbox.uploads() == []


def test_seller_other_than_the_uploader_or_unknown_to_anaf_is_nok(anaf_live: AnafLive) -> None:
    xml = issue_invoice()
    headers = anaf_live.bearer()
    index = upload(anaf_live, xml, headers, cif=BUYER)[1]  # the buyer uploads the seller's invoice
    assert stare(anaf_live, index or 0, headers).get("stare") == "nok"
    assert any("R6.2" in e for e in anaf_live.sandbox.upload_record(index or 0).errors)  # type: ignore[union-attr]
    # self-billing: the buyer uploads, and the seller's CIF fails its checksum
    forged = xml.replace(f"RO{SELLER}".encode(), b"RO18547291")
    index = upload(anaf_live, forged, headers, cif=BUYER, autofactura="DA")[1]
    assert stare(anaf_live, index or 0, headers).get("stare") == "nok"
    errors = anaf_live.sandbox.upload_record(index or 0).errors  # type: ignore[union-attr]
    assert "E: validari globale\n eroare regula: R6.1: CIF-ul vanzatorului nu figureaza in baza de date:18547291" \
        in errors


def test_concurrent_callers_process_each_file_once(anaf_live: AnafLive) -> None:
    sandbox = anaf_live.sandbox
    sandbox.processing_delay = 3600
    headers = anaf_live.bearer()
    indexes = [upload(anaf_live, issue_invoice(), headers)[1] for _ in range(3)]
    sandbox.clock.advance(3601)
    done: list[int] = []
    threads = [threading.Thread(target=lambda: done.append(sandbox.process_pending())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(done) == 3
    sent = messages(anaf_live, SELLER, headers)["mesaje"]
    assert sorted(int(m["id_solicitare"]) for m in sent) == sorted(i for i in indexes if i)
    assert [sandbox.received_body(i or 0) is not None for i in indexes] == [True, True, True]


def test_document_of_another_standard_is_not_taken_over(anaf_live: AnafLive) -> None:
    xml = issue_invoice()
    headers = anaf_live.bearer()
    index = upload(anaf_live, xml, headers, standard="CN")[1]
    root = stare(anaf_live, index or 0, headers)
    assert root.get("stare") == "XML cu erori nepreluat de sistem" and root.get("id_descarcare") is None
    assert "Nu exista mesaje" in messages(anaf_live, SELLER, headers)["eroare"]


# -- stareMesaj, descarcare and their limits ---------------------------------------------------------


def test_status_and_download_errors_use_anaf_texts(anaf_live: AnafLive) -> None:
    headers = anaf_live.bearer()
    missing = httpx.get(anaf_live.api_url() + "stareMesaj", headers=headers)
    assert missing.status_code == 400 and missing.json()["message"] == "Parametrul id_incarcare este obligatoriu"
    assert error_of(stare(anaf_live, "12a", headers)) == "Id_incarcare introdus= 12a nu este un numar intreg"
    assert error_of(stare(anaf_live, 5000999999, headers)) == "Nu exista factura cu id_incarcare= 5000999999"
    xml = issue_invoice()
    index = upload(anaf_live, xml, headers, env="prod")[1]
    assert error_of(stare(anaf_live, index or 0, headers, env="test")) == f"Nu exista factura cu id_incarcare= {index}"
    assert download(anaf_live, "x1", headers).json() == {
        "eroare": "Id descarcare introdus= x1 nu este un numar intreg", "titlu": "Descarcare mesaj"}
    assert download(anaf_live, 3000999999, headers).json()["eroare"] == \
        "Pentru id=3000999999 nu exista inregistrata nici o factura"
    assert download(anaf_live, "", headers).status_code == 400


def test_per_message_daily_limits_answer_with_anaf_texts_and_reset_the_next_day(anaf_live: AnafLive) -> None:
    sandbox = anaf_live.sandbox
    sandbox.limits.status_per_message = 2
    sandbox.limits.downloads_per_message = 1
    headers = anaf_live.bearer()
    first = upload(anaf_live, issue_invoice(), headers)[1] or 0
    second = upload(anaf_live, issue_invoice(), headers)[1] or 0
    assert stare(anaf_live, first, headers).get("stare") == "ok"
    download_id = stare(anaf_live, first, headers).get("id_descarcare")
    assert error_of(stare(anaf_live, first, headers)) == "S-au facut deja 2 descarcari de mesaj in cursul zilei"
    assert stare(anaf_live, second, headers).get("stare") == "ok"  # the limit is per message
    assert download(anaf_live, download_id or "", headers).status_code == 200
    assert download(anaf_live, download_id or "", headers).json()["eroare"] == \
        f"S-au facut deja 1 descarcari la mesajul cu id_descarcare={download_id} in cursul zilei"
    sandbox.clock.advance(86400)
    assert stare(anaf_live, first, headers).get("stare") == "ok"
    assert download(anaf_live, download_id or "", headers).headers["content-type"] == "application/zip"
    sandbox.clock.advance(61 * 86400)
    assert "60 de zile" in download(anaf_live, download_id or "", headers).json()["eroare"]


def test_more_than_the_per_minute_limit_gets_429(anaf_live: AnafLive) -> None:
    anaf_live.sandbox.limits.per_minute = 3
    headers = anaf_live.bearer()
    answers = [httpx.get(anaf_live.api_url() + "stareMesaj", params={"id_incarcare": "1"}, headers=headers)
               for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].headers["retry-after"] and answers[-1].json()["status"] == 429
    other = anaf_live.bearer()  # another caller has its own window
    assert httpx.get(anaf_live.api_url() + "stareMesaj", params={"id_incarcare": "1"},
                     headers=other).status_code == 200


# -- message lists ---------------------------------------------------------------------------------


def test_simple_list_checks_parameters_and_limits(anaf_live: AnafLive) -> None:
    sandbox = anaf_live.sandbox
    headers = anaf_live.bearer()
    assert messages(anaf_live, BUYER, headers) == {"eroare": "Nu exista mesaje in ultimele 10 zile",
                                                   "titlu": "Lista Mesaje"}
    assert messages(anaf_live, BUYER, headers, zile="61")["eroare"] == "Numarul de zile introdus este mai mare de 60"
    assert messages(anaf_live, BUYER, headers, zile="x")["eroare"] == \
        "Numarul de zile introdus= x nu este un numar intreg"
    assert messages(anaf_live, "RO1", headers)["eroare"] == "CIF introdus= RO1 nu este un numar"
    assert "filtru" in messages(anaf_live, BUYER, headers, filtru="X")["eroare"]
    no_zile = httpx.get(anaf_live.api_url() + "listaMesajeFactura", params={"cif": BUYER}, headers=headers)
    assert no_zile.status_code == 400 and no_zile.json()["message"] == "Parametrul zile este obligatoriu"
    for _ in range(3):
        sandbox.inject_invoice(BUYER, env="test")
    sandbox.limits.simple_list_max = 2
    assert "paginatie" in messages(anaf_live, BUYER, headers)["eroare"]
    sandbox.limits.simple_list_max = 500
    listed = messages(anaf_live, BUYER, headers, filtru="P")
    assert len(listed["mesaje"]) == 3 and listed["cui"] == BUYER and listed["serial"]
    assert set(listed["mesaje"][0]) == {"data_creare", "cif", "id_solicitare", "detalii", "tip", "id"}
    sandbox.reset_limits()
    sandbox.limits.simple_lists_per_cui = 1
    assert len(messages(anaf_live, BUYER, headers)["mesaje"]) == 3
    assert messages(anaf_live, BUYER, headers)["eroare"] == \
        f"S-au facut deja 1 de interogari de tip lista mesaje de catre CUI={BUYER} in cursul zilei"
    assert len(messages(anaf_live, SELLER, headers)["mesaje"]) == 3  # the limit is per CUI; SELLER sent them


def test_paginated_list_pages_injected_invoices(anaf_live: AnafLive) -> None:
    sandbox = anaf_live.sandbox
    sandbox.limits.page_size = 2
    headers = anaf_live.bearer()
    injected = [sandbox.inject_invoice(BUYER, env="test").index_incarcare for _ in range(5)]
    now_ms = int(sandbox.clock.now().timestamp() * 1000)
    start = now_ms - 3_600_000

    def page(number: int, **params: str) -> dict[str, Any]:
        query = {"startTime": str(start), "endTime": str(now_ms), "cif": BUYER, "pagina": str(number), **params}
        response = httpx.get(anaf_live.api_url() + "listaMesajePaginatieFactura", params=query, headers=headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    pages = [page(n) for n in (1, 2, 3)]
    assert [p["numar_inregistrari_in_pagina"] for p in pages] == [2, 2, 1]
    assert {(p["numar_total_inregistrari"], p["numar_total_pagini"], p["numar_total_inregistrari_per_pagina"])
            for p in pages} == {(5, 3, 2)}
    assert [p["index_pagina_curenta"] for p in pages] == [1, 2, 3]
    seen = [int(m["id_solicitare"]) for p in pages for m in p["mesaje"]]
    assert sorted(seen) == sorted(injected) and {m["tip"] for p in pages for m in p["mesaje"]} == {"FACTURA PRIMITA"}
    assert page(4)["eroare"] == "Pagina solicitata 4 este mai mare decat numarul total de pagini 3"
    assert page(1, filtru="T")["eroare"] == "Nu exista mesaje in intervalul selectat"
    assert page(1, endTime=str(now_ms + 3_600_000))["eroare"] == "endTime nu poate fi in viitor"
    assert "60 de zile" in page(1, startTime=str(now_ms - 61 * 86_400_000))["eroare"]
    # the seller (not a punte company here) sees the same invoices as sent
    seller_cif = sandbox.upload_record(injected[0]).seller_cif  # type: ignore[union-attr]
    sent = httpx.get(anaf_live.api_url() + "listaMesajePaginatieFactura", headers=headers, params={
        "startTime": str(start), "endTime": str(now_ms), "cif": seller_cif, "pagina": "1"}).json()
    assert sent["numar_total_inregistrari"] == 5 and sent["mesaje"][0]["tip"] == "FACTURA TRIMISA"


def test_injected_invoice_through_the_admin_controls_can_be_downloaded_by_the_buyer(anaf_live: AnafLive) -> None:
    answer = httpx.post(f"{anaf_live.sandbox_url}/_admin/inject", json={
        "buyer_cif": f"RO{SELLER}", "env": "prod", "number": "FURN0042", "issue_date": "2026-01-15",
        "amount": "250.00"})
    assert answer.status_code == 200, answer.text
    record = answer.json()
    assert record["stare"] == "ok" and record["invoice_number"] == "FURN0042" and record["kind"] == "injected"
    headers = anaf_live.bearer()
    (message,) = messages(anaf_live, SELLER, headers, env="prod")["mesaje"]
    assert message["tip"] == "FACTURA PRIMITA" and message["id"] == str(record["id_descarcare"])
    verified = verify_signature(download(anaf_live, message["id"], headers, env="prod").content,
                                certificate(anaf_live))
    assert b"FURN0042" in verified.document and b"250.00" in verified.document
    bad = httpx.post(f"{anaf_live.sandbox_url}/_admin/inject", json={"buyer_cif": SELLER, "xml": "nope"})
    assert bad.status_code == 400


def test_access_rights_per_certificate_holder(anaf_live: AnafLive) -> None:
    headers = anaf_live.bearer()
    index = upload(anaf_live, issue_invoice(), headers)[1] or 0
    anaf_live.sandbox.grant("CONTABIL", {BUYER})
    limited = anaf_live.bearer(subject="CONTABIL")
    assert messages(anaf_live, SELLER, limited)["eroare"] == f"Nu aveti drept in SPV pentru CIF={SELLER}"
    assert error_of(stare(anaf_live, index, limited)) == f"Nu aveti dreptul de inteorgare pentru id_incarcare= {index}"
    download_id = stare(anaf_live, index, headers).get("id_descarcare")
    assert download(anaf_live, download_id or "", limited).status_code == 200  # the buyer's copy
    anaf_live.sandbox.grant("CONTABIL", {"1"})
    assert download(anaf_live, download_id or "", limited).json()["eroare"] == \
        "Nu aveti dreptul sa descarcati acesta factura"


# -- validare / transformare ------------------------------------------------------------------------


def test_validare_answers_ok_or_nok_and_exists_only_in_production(anaf_live: AnafLive) -> None:
    require_rules()
    xml = issue_invoice()
    url = anaf_live.api_url("prod") + "validare/"
    ok = httpx.post(url + "FACT1", content=xml, headers={"Content-Type": "text/plain"})
    assert ok.status_code == 200 and ok.json()["stare"] == "ok"
    nok = httpx.post(url + "FACT1", content=xml.replace(b"CIUS-RO:1.0.1", b"CIUS-RO:1.0.0")).json()
    assert nok["stare"] == "nok" and any(m["message"].startswith("[BR-RO-001]") for m in nok["Messages"])
    assert httpx.post(url + "FCN", content=xml).json()["stare"] == "nok"
    assert httpx.post(url + "XYZ", content=xml).json()["Messages"] == [
        {"message": "Valorile acceptate pentru parametrul standard sunt FACT1 si FCN"}]
    assert httpx.post(anaf_live.api_url("test") + "validare/FACT1", content=xml).status_code == 404
    assert httpx.post(anaf_live.api_url("test") + "transformare/FACT1", content=xml).status_code == 404
    assert anaf_live.sandbox.uploads() == []  # nothing was sent


def test_transformare_draws_the_invoice_as_pdf(anaf_live: AnafLive) -> None:
    require_rules()
    from pypdf import PdfReader

    xml = issue_invoice()
    url = anaf_live.api_url("prod") + "transformare/FACT1"
    pdf = httpx.post(url, content=xml, headers={"Content-Type": "text/plain"}, timeout=30)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Client SRL" in text and "Servicii de consultanta" in text and "242" in text
    broken = xml.replace(b"CIUS-RO:1.0.1", b"CIUS-RO:1.0.0")
    assert httpx.post(url, content=broken, timeout=30).json()["stare"] == "nok"
    skipped = httpx.post(url + "/DA", content=broken, timeout=30)
    assert skipped.status_code == 200 and skipped.content.startswith(b"%PDF")


# -- faults ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "status", "start"), [
    ("500", 500, b"{"), ("html", 200, b"<!DOCTYPE html>"), ("rejected", 200, b"<html>"), ("text", 200, b"Serviciul"),
    ("429", 429, b"{"),
])
def test_faults_answer_the_next_calls_then_stop(anaf_live: AnafLive, kind: str, status: int, start: bytes) -> None:
    headers = anaf_live.bearer()
    anaf_live.sandbox.faults.add("listaMesajeFactura", kind, count=2)
    url = anaf_live.api_url() + "listaMesajeFactura"
    answers = [httpx.get(url, params={"zile": "1", "cif": SELLER}, headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers[:2]] == [status, status]
    assert all(a.content.startswith(start) for a in answers[:2])
    assert answers[2].status_code == 200 and answers[2].json()["titlu"] == "Lista Mesaje"


def test_hang_makes_the_client_time_out_while_the_upload_still_arrives(anaf_live: AnafLive) -> None:
    xml = issue_invoice()
    headers = anaf_live.bearer()
    anaf_live.sandbox.faults.add("upload", "hang", seconds=0.8)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(anaf_live.api_url() + "upload", params={"standard": "UBL", "cif": SELLER}, content=xml,
                   headers=headers, timeout=httpx.Timeout(5, read=0.2))
    assert anaf_live.sandbox.uploads() == []
    deadline = time.monotonic() + 5
    while not anaf_live.sandbox.uploads() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(anaf_live.sandbox.uploads()) == 1


def test_hold_records_the_upload_and_keeps_the_answer_until_released(anaf_live: AnafLive) -> None:
    xml = issue_invoice()
    headers = anaf_live.bearer()
    anaf_live.sandbox.faults.add("upload", "hold")
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.update(answer=upload(anaf_live, xml, headers)))
    worker.start()
    hold = anaf_live.sandbox.holds.wait_for(timeout=10)
    record = anaf_live.sandbox.upload_record(hold.index_incarcare)
    assert record is not None and record.body_sha256  # ANAF has the file ...
    time.sleep(0.2)
    assert worker.is_alive() and "answer" not in result  # ... the caller has no answer yet
    assert anaf_live.sandbox.holds.release() == 1
    worker.join(10)
    assert result["answer"][1] == hold.index_incarcare
    assert upload(anaf_live, issue_invoice(), headers)[1]  # one call only


def test_admin_faults_and_controls_over_http(anaf_live: AnafLive) -> None:
    admin = f"{anaf_live.sandbox_url}/_admin"
    assert httpx.post(f"{admin}/faults", json={"endpoint": "stareMesaj", "kind": "500"}).status_code == 200
    assert httpx.post(f"{admin}/faults", json={"endpoint": "nope", "kind": "500"}).status_code == 400
    assert [f["kind"] for f in httpx.get(f"{admin}/faults").json()] == ["500"]
    headers = anaf_live.bearer()
    assert httpx.get(anaf_live.api_url() + "stareMesaj", params={"id_incarcare": "1"},
                     headers=headers).status_code == 500
    assert httpx.put(f"{admin}/delay", json={"seconds": 5}).json() == {"seconds": 5.0}
    index = upload(anaf_live, issue_invoice(), headers)[1] or 0
    assert stare(anaf_live, index, headers).get("stare") == "in prelucrare"
    assert httpx.post(f"{admin}/process").json() == {"processed": 1}
    assert stare(anaf_live, index, headers).get("stare") == "ok"
    assert [u["index_incarcare"] for u in httpx.get(f"{admin}/uploads", params={"cif": SELLER}).json()] == [index]
    assert httpx.put(f"{admin}/limits", json={"page_size": 7}).json()["page_size"] == 7
    assert httpx.post(f"{admin}/clock", json={"advance_seconds": 3600}).json()["offset_seconds"] == 3600


# -- state, signatures, configuration ----------------------------------------------------------------


def test_state_survives_a_restart_of_the_app(anaf_live: AnafLive) -> None:
    from fastapi.testclient import TestClient

    from punte.api.app import create_app

    answer = anaf_live.tokens()
    index = upload(anaf_live, issue_invoice(),
                   {"Authorization": f"Bearer {answer['access_token']}"})[1]
    restarted = create_app(anaf_live.settings, db=anaf_live.db, migrate=False)
    with TestClient(restarted) as client:
        headers = {"Authorization": f"Bearer {answer['access_token']}"}  # same key, same tokens
        status = client.get("/anaf-sandbox/test/FCTEL/rest/stareMesaj", params={"id_incarcare": index},
                            headers=headers)
        assert 'stare="ok"' in status.text
        refreshed = client.post("/anaf-sandbox/anaf-oauth2/v1/token", auth=(CLIENT_ID, CLIENT_SECRET),
                                data={"grant_type": "refresh_token", "refresh_token": answer["refresh_token"]})
        assert refreshed.status_code == 200
    assert [r.index_incarcare for r in restarted.state.anaf_sandbox.uploads()] == [index]


def test_verify_signature_refuses_altered_or_foreign_zips(anaf_live: AnafLive) -> None:
    headers = anaf_live.bearer()
    index = upload(anaf_live, issue_invoice(), headers)[1]
    content = download(anaf_live, stare(anaf_live, index or 0, headers).get("id_descarcare") or "", headers).content
    archive = zipfile.ZipFile(io.BytesIO(content))
    files = {name: archive.read(name) for name in archive.namelist()}

    def rezip(changes: dict[str, bytes]) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as out:
            for name, data in {**files, **changes}.items():
                out.writestr(name, data)
        return buffer.getvalue()

    signature_name = f"semnatura_{index}.xml"
    with pytest.raises(SignatureError):
        verify_signature(rezip({f"{index}.xml": files[f"{index}.xml"].replace(b"Client SRL", b"Client SA")}))
    with pytest.raises(SignatureError):
        verify_signature(rezip({signature_name: files[signature_name].replace(b"Client SRL", b"Client SA")}))
    with pytest.raises(SignatureError):
        verify_signature(b"PK not a zip")
    from punte.efactura.sandbox.signing import SandboxKeys, _new_bundle

    stranger = SandboxKeys.from_pem(_new_bundle()).certificate_pem
    with pytest.raises(SignatureError):
        verify_signature(content, stranger)
    untrusted = verify_signature(content)
    assert not untrusted.trusted and "ANAF SANDBOX" in untrusted.signer_subject


def test_the_sandbox_can_be_turned_off(db: Database, settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from punte.api.app import create_app

    app = create_app(settings.model_copy(update={"anaf_sandbox_enabled": False}), db=db, migrate=False)
    assert not hasattr(app.state, "anaf_sandbox")
    with TestClient(app) as client:
        assert client.get("/anaf-sandbox/certificate").status_code == 404
