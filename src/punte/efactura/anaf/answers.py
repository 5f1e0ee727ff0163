"""ANAF's answers as typed values: what the body is (sniffed), then what it says.

ANAF does not always answer with the media type of the call: a maintenance or firewall page
("Request Rejected") comes back as HTML with HTTP 200, errors of the list and download calls are
JSON with HTTP 200, and a few answers are plain text. So every body is first classified by its
first bytes (:func:`sniff`), then parsed by the shape the call expects; anything else becomes a
typed error (:mod:`punte.efactura.anaf.errors`).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from lxml import etree

from .errors import AnafDuplicateUpload, AnafLimitReached, AnafPermanentError, AnafTransientError, AnafUploadRejected

BodyKind = Literal["xml", "zip", "pdf", "json", "html", "text", "empty"]

UPLOAD_NS = "mfp:anaf:dgti:spv:respUploadFisier:v1"
STARE_NS = "mfp:anaf:dgti:efactura:stareMesajFactura:v1"
ERRORS_NS = "mfp:anaf:dgti:efactura:mesajEroriFactuta:v1"  # sic: ANAF's own spelling

STARE_OK = "ok"
STARE_NOK = "nok"
STARE_PROCESSING = "in prelucrare"
STARE_XML_ERRORS = "XML cu erori nepreluat de sistem"

_DUPLICATE = re.compile(
    r"a mai fost transmis\w*\s+anterior\s+cu\s+index\s*=\s*(\d+)(?:.*?data\s+incarcare\s*=\s*([\w:\-/ .]+))?",
    re.IGNORECASE | re.DOTALL,
)
_RULE = re.compile(r"\[\s*([A-Za-z][A-Za-z0-9_.\-]*)\s*\]\s*-?\s*(.*)", re.DOTALL)
_RULE_WORD = re.compile(r"regula\s*:\s*([A-Za-z][A-Za-z0-9_.\-]*?)\s*:\s*(.*)", re.IGNORECASE | re.DOTALL)
_DAILY_LIMIT = re.compile(r"S-au\s+facut\s+deja\s+\d+", re.IGNORECASE)
_NO_MESSAGES = re.compile(r"^\s*nu\s+exista\s+mesaje", re.IGNORECASE)
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.IGNORECASE | re.DOTALL)
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def sniff(body: bytes) -> BodyKind:
    """What a body is, from its first bytes (the Content-Type header is not trusted)."""
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:512]
    if not head:
        return "empty"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head[:1] in (b"{", b"["):
        return "json"
    if _HTML_START.match(head):
        return "html"
    if head.startswith(b"<"):
        if re.search(rb"<(!doctype\s+html|html)\b", head, re.IGNORECASE):
            return "html"
        return "xml"
    return "text"


def describe(body: bytes, limit: int = 200) -> str:
    """A short readable excerpt of a body for error messages (tags stripped from HTML)."""
    text = body[:4000].decode("utf-8", "replace")
    if sniff(body) == "html":
        title = re.search(r"<title>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        text = re.sub(r"<[^>]+>", " ", text)
        if title:
            text = f"{title.group(1).strip()}: {text}"
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


def unexpected(body: bytes, *, status: int, call: str, expected: str) -> AnafTransientError:
    """An answer of the wrong kind (a maintenance page, plain text...): retried later."""
    kind = sniff(body)
    return AnafTransientError(
        f"ANAF {call}: raspuns neasteptat ({kind}, HTTP {status}) in loc de {expected}: {describe(body)}",
        retry_after=60.0, status=status, body=body,
    )


def parse_xml(body: bytes, *, status: int, call: str) -> etree._Element:
    try:
        root = etree.fromstring(body, _SAFE_PARSER)
    except etree.XMLSyntaxError as exc:
        raise AnafTransientError(f"ANAF {call}: XML de neinteles: {exc}", retry_after=60.0, status=status,
                                 body=body) from exc
    if etree.QName(root).localname.lower() == "html":
        raise unexpected(body, status=status, call=call, expected="XML")
    return root


def parse_json(body: bytes, *, status: int, call: str) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise AnafTransientError(f"ANAF {call}: JSON de neinteles: {exc}", retry_after=60.0, status=status,
                                 body=body) from exc
    if not isinstance(data, dict):
        raise AnafTransientError(f"ANAF {call}: JSON neasteptat: {describe(body)}", retry_after=60.0, status=status,
                                 body=body)
    return data


def _error_messages(root: etree._Element) -> list[str]:
    return [str(e.get("errorMessage", "")).strip() for e in root.iter() if etree.QName(e).localname == "Errors"]


def json_error_text(data: dict[str, Any]) -> str | None:
    """The error an ANAF JSON answer carries (``eroare``, or Spring's ``message`` on a 400)."""
    for key in ("eroare", "Eroare", "error_description"):
        if data.get(key):
            return str(data[key]).strip()
    if data.get("status") and data.get("message") and "mesaje" not in data:
        return str(data["message"]).strip()
    return None


def daily_limit_error(text: str) -> AnafLimitReached:
    from .limits import next_anaf_day

    return AnafLimitReached(text, retry_at=next_anaf_day())


# -- upload ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UploadResult:
    """An accepted upload: ``index`` is ``index_incarcare``, the id to poll with ``stareMesaj``."""

    index: str
    date_response: str | None = None


def duplicate_of(messages: list[str]) -> tuple[str, str | None] | None:
    """``(index, date)`` when one of the messages is ANAF's "already transmitted" answer."""
    for text in messages:
        match = _DUPLICATE.search(text)
        if match:
            return match.group(1), (match.group(2) or "").strip() or None
    return None


def parse_upload(body: bytes, *, status: int) -> UploadResult:
    root = parse_xml(body, status=status, call="upload")
    execution = (root.get("ExecutionStatus") or "").strip()
    errors = _error_messages(root)
    index = (root.get("index_incarcare") or "").strip()
    if execution == "0" and index:
        return UploadResult(index=index, date_response=root.get("dateResponse"))
    duplicate = duplicate_of(errors)
    if duplicate is not None:
        raise AnafDuplicateUpload(errors, duplicate[0], duplicate[1], status=status, body=body)
    if execution == "1" or errors:
        raise AnafUploadRejected(errors or ["ExecutionStatus=1 fara mesaj"], status=status, body=body)
    raise AnafTransientError(f"ANAF upload: raspuns fara index_incarcare: {describe(body)}", retry_after=60.0,
                             status=status, body=body)


# -- stareMesaj -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MessageState:
    """The answer of ``stareMesaj``: ``stare`` as ANAF writes it, ``download_id`` when there is one."""

    stare: str
    download_id: str | None = None
    errors: tuple[str, ...] = ()

    @property
    def processing(self) -> bool:
        return self.stare.strip().lower() == STARE_PROCESSING

    @property
    def ok(self) -> bool:
        return self.stare.strip().lower() == STARE_OK

    @property
    def nok(self) -> bool:
        return self.stare.strip().lower() == STARE_NOK

    @property
    def not_taken(self) -> bool:
        """``XML cu erori nepreluat de sistem``: the file was not taken at all."""
        return self.stare.strip().lower() == STARE_XML_ERRORS.lower()


def is_daily_limit(text: str) -> bool:
    """ANAF's "S-au facut deja N ... in cursul zilei" (a daily limit was reached)."""
    return bool(_DAILY_LIMIT.search(text))


def parse_stare(body: bytes, *, status: int) -> MessageState:
    root = parse_xml(body, status=status, call="stareMesaj")
    errors = _error_messages(root)
    stare = (root.get("stare") or "").strip()
    if not stare:
        if any(is_daily_limit(e) for e in errors):
            raise daily_limit_error(f"ANAF stareMesaj: {'; '.join(errors)}")
        if errors:
            raise AnafPermanentError(f"ANAF stareMesaj: {'; '.join(errors)}", status=status, body=body)
        raise AnafTransientError(f"ANAF stareMesaj: raspuns fara stare: {describe(body)}", retry_after=60.0,
                                 status=status, body=body)
    download_id = (root.get("id_descarcare") or "").strip() or None
    return MessageState(stare=stare, download_id=download_id, errors=tuple(errors))


# -- message lists --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Message:
    """One entry of ``listaMesajeFactura``: ``id`` is the download id, ``id_solicitare`` the upload index."""

    id: str
    tip: str
    id_solicitare: str | None
    cif: str
    detalii: str
    data_creare: datetime | None

    @property
    def seller_cif(self) -> str | None:
        match = re.search(r"cif_emitent\s*=\s*(\w+)", self.detalii)
        return match.group(1) if match else None

    @property
    def buyer_cif(self) -> str | None:
        match = re.search(r"cif_beneficiar\s*=\s*(\w+)", self.detalii)
        return match.group(1) if match else None

    @property
    def is_sent_invoice(self) -> bool:
        return self.tip.strip().upper() == "FACTURA TRIMISA"

    @property
    def is_received_invoice(self) -> bool:
        return self.tip.strip().upper() == "FACTURA PRIMITA"

    @property
    def is_error(self) -> bool:
        return self.tip.strip().upper() == "ERORI FACTURA"


@dataclass(frozen=True)
class MessagePage:
    messages: list[Message]
    page: int = 1
    pages: int | None = None  # None when ANAF gave no paging fields
    total: int | None = None
    serial: str | None = None
    cui: str | None = None
    titlu: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def parse_anaf_time(text: str | None) -> datetime | None:
    """``YYYYMMDDHHMM`` (ANAF's ``data_creare``/``dateResponse``) as a naive Romanian local time."""
    value = (text or "").strip()
    for fmt in ("%Y%m%d%H%M", "%Y%m%d%H%M%S", "%Y%m%d"):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def parse_messages(body: bytes, *, status: int, call: str) -> MessagePage:
    data = parse_json(body, status=status, call=call)
    error = json_error_text(data)
    if error is not None and "mesaje" not in data:
        if _NO_MESSAGES.match(error):
            return MessagePage(messages=[], page=1, pages=0, total=0, titlu=data.get("titlu"), raw=data)
        if is_daily_limit(error):
            raise daily_limit_error(f"ANAF {call}: {error}")
        raise AnafPermanentError(f"ANAF {call}: {error}", status=status, body=body)
    raw_messages = data.get("mesaje")
    if not isinstance(raw_messages, list):
        raise AnafTransientError(f"ANAF {call}: raspuns fara lista de mesaje: {describe(body)}", retry_after=60.0,
                                 status=status, body=body)
    messages = [
        Message(
            id=str(m.get("id", "")).strip(),
            tip=str(m.get("tip", "")).strip(),
            id_solicitare=(str(m["id_solicitare"]).strip() if m.get("id_solicitare") not in (None, "") else None),
            cif=str(m.get("cif", "")).strip(),
            detalii=str(m.get("detalii", "")),
            data_creare=parse_anaf_time(m.get("data_creare")),
        )
        for m in raw_messages
        if isinstance(m, dict)
    ]
    page = _int(data.get("index_pagina_curenta")) or 1
    pages = _int(data.get("numar_total_pagini"))
    total = _int(data.get("numar_total_inregistrari"))
    return MessagePage(
        messages=messages, page=page, pages=pages, total=total,
        serial=data.get("serial"), cui=data.get("cui"), titlu=data.get("titlu"), raw=data,
    )


# -- downloads: the ZIP and the error XML inside it ---------------------------------------------
@dataclass(frozen=True)
class AnafFinding:
    """One of ANAF's messages in readable form: ``rule`` (``BR-RO-100``) when it names one."""

    text: str
    rule: str | None = None
    severity: str = "E"

    def as_dict(self) -> dict[str, str | None]:
        return {"rule": self.rule, "text": self.text, "severity": self.severity}

    def __str__(self) -> str:
        return f"[{self.rule}] {self.text}" if self.rule else self.text


def parse_finding(message: str) -> AnafFinding:
    """``E: validari globale eroare: [BR-CO-10]-Suma ...`` -> rule ``BR-CO-10``, text ``Suma ...``."""
    text = " ".join(message.split())
    severity = "W" if re.match(r"^\s*W\s*:", text) else "E"
    match = _RULE.search(text) or _RULE_WORD.search(text)
    if match:
        return AnafFinding(text=match.group(2).strip(" -") or text, rule=match.group(1), severity=severity)
    return AnafFinding(text=re.sub(r"^\s*[EW]\s*:\s*", "", text), rule=None, severity=severity)


@dataclass(frozen=True)
class AnafZip:
    """A downloaded ZIP: the invoice (on ``ok``) or ANAF's error XML (on ``nok``) plus the signature."""

    data: bytes
    invoice_name: str | None
    invoice_xml: bytes | None
    signature_name: str | None
    signature_xml: bytes | None
    errors: list[AnafFinding]
    error_index: str | None = None

    @property
    def is_error(self) -> bool:
        return self.invoice_xml is None and bool(self.errors or self.error_index)


def parse_error_xml(data: bytes) -> tuple[list[AnafFinding], str | None]:
    root = etree.fromstring(data, _SAFE_PARSER)
    findings = [
        parse_finding(str(e.get("errorMessage", "")))
        for e in root.iter()
        if etree.QName(e).localname in ("Error", "Errors") and e.get("errorMessage")
    ]
    index = root.get("Index_incarcare") or root.get("index_incarcare")
    return findings, index


def read_zip(data: bytes) -> AnafZip:
    """Open a ZIP from ``descarcare``; raises :class:`AnafPermanentError` when it is not one."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
        files = {name: archive.read(name) for name in names if not name.endswith("/")}
    except (zipfile.BadZipFile, OSError) as exc:
        raise AnafPermanentError(f"ANAF descarcare: ZIP invalid: {exc}") from exc
    signature_name = next((n for n in files if n.rsplit("/", 1)[-1].lower().startswith("semnatura")), None)
    invoice_name: str | None = None
    invoice_xml: bytes | None = None
    errors: list[AnafFinding] = []
    error_index: str | None = None
    for name, content in files.items():
        if name == signature_name or not name.lower().endswith(".xml"):
            continue
        try:
            root = etree.fromstring(content, _SAFE_PARSER)
        except etree.XMLSyntaxError:
            continue
        namespace = etree.QName(root).namespace or ""
        if namespace == ERRORS_NS or etree.QName(root).localname == "header":
            errors, error_index = parse_error_xml(content)
        elif etree.QName(root).localname in ("Invoice", "CreditNote"):
            invoice_name, invoice_xml = name, content
    return AnafZip(
        data=data, invoice_name=invoice_name, invoice_xml=invoice_xml, signature_name=signature_name,
        signature_xml=files.get(signature_name) if signature_name else None, errors=errors, error_index=error_index,
    )


# -- validare -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ValidationResult:
    ok: bool
    findings: list[AnafFinding]
    trace_id: str | None = None


def parse_validation(data: dict[str, Any]) -> ValidationResult:
    stare = str(data.get("stare", "")).strip().lower()
    messages = data.get("Messages") or data.get("messages") or []
    findings = [parse_finding(str(m.get("message", ""))) for m in messages if isinstance(m, dict)]
    return ValidationResult(ok=stare == "ok", findings=findings, trace_id=data.get("trace_id"))


__all__ = [
    "AnafFinding",
    "AnafZip",
    "BodyKind",
    "Message",
    "MessagePage",
    "MessageState",
    "UploadResult",
    "ValidationResult",
    "describe",
    "duplicate_of",
    "parse_anaf_time",
    "parse_error_xml",
    "parse_finding",
    "parse_messages",
    "parse_stare",
    "parse_upload",
    "parse_validation",
    "read_zip",
    "sniff",
]
