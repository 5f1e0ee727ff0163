"""ANAF's answer formats and texts, in one place.

Texts marked ``# ANAF`` are ANAF's own wording as it appears in ANAF's documentation or in
answers recorded by public integrations (typos included: ``inteorgare``, ``petru``,
``mesajEroriFactuta``). The others (``# sandbox``) cover cases for which no ANAF wording is
known; they are written in ANAF's style so a client cannot tell them apart by shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.sax.saxutils import quoteattr

from .clock import anaf_stamp, bucharest

NS_UPLOAD = "mfp:anaf:dgti:spv:respUploadFisier:v1"
NS_STATUS = "mfp:anaf:dgti:efactura:stareMesajFactura:v1"
NS_ERRORS = "mfp:anaf:dgti:efactura:mesajEroriFactuta:v1"
XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

STANDARDS = ("UBL", "CN", "CII", "RASP")
FILTERS = {"E": "ERORI FACTURA", "T": "FACTURA TRIMISA", "P": "FACTURA PRIMITA", "R": "MESAJ CUMPARATOR"}

STARE_PROCESSING = "in prelucrare"
STARE_OK = "ok"
STARE_NOK = "nok"
STARE_REJECTED = "XML cu erori nepreluat de sistem"

TIP_SENT = "FACTURA TRIMISA"
TIP_RECEIVED = "FACTURA PRIMITA"
TIP_ERRORS = "ERORI FACTURA"
TIP_BUYER_SENT = "MESAJ CUMPARATOR TRANSMIS"  # sandbox: ANAF only documents the prefix
TIP_BUYER_RECEIVED = "MESAJ CUMPARATOR PRIMIT"  # sandbox

TITLE_LIST = "Lista Mesaje"
TITLE_DOWNLOAD = "Descarcare mesaj"

# upload (XML, ExecutionStatus="1")
BAD_STANDARD = "Valorile acceptate pentru parametrul standard sunt UBL, CN, CII sau RASP"  # ANAF
CIF_NOT_NUMBER = "CIF introdus= {cif} nu este un numar"  # ANAF
TOO_LARGE = "Marime fisier transmis mai mare de {mb} MB."  # ANAF (5 MB text, 10 MB limit today)
NOT_VALID_XML = "Fisierul transmis nu este valid. org.xml.sax.SAXParseException; lineNumber: {line}; " \
                "columnNumber: {column}; {message}"  # ANAF
BAD_FLAG = "Valorile acceptate pentru parametrul {name} sunt DA"  # sandbox
NO_RIGHTS_CIF = "Nu aveti drept in SPV pentru CIF={cif}"  # ANAF
RASP_LIMIT = "S-au facut deja {limit} incarcari de mesaje RASP de catre CUI={cif} in cursul zilei"  # sandbox

# stareMesaj (XML <Errors errorMessage=...>)
INDEX_NOT_INTEGER = "Id_incarcare introdus= {value} nu este un numar intreg"  # ANAF
NO_SUCH_UPLOAD = "Nu exista factura cu id_incarcare= {index}"  # ANAF
NO_RIGHTS_UPLOAD = "Nu aveti dreptul de inteorgare pentru id_incarcare= {index}"  # ANAF
STATUS_LIMIT = "S-au facut deja {limit} descarcari de mesaj in cursul zilei"  # ANAF

# listaMesajeFactura / listaMesajePaginatieFactura (JSON {"eroare", "titlu"})
DAYS_NOT_INTEGER = "Numarul de zile introdus= {value} nu este un numar intreg"  # ANAF
DAYS_TOO_MANY = "Numarul de zile introdus este mai mare de 60"  # ANAF
DAYS_TOO_FEW = "Numarul de zile introdus trebuie sa fie cel putin 1"  # sandbox
BAD_FILTER = "Valorile acceptate pentru parametrul filtru sunt E, T, P sau R"  # sandbox
NO_MESSAGES_DAYS = "Nu exista mesaje in ultimele {zile} zile"  # ANAF
NO_MESSAGES_INTERVAL = "Nu exista mesaje in intervalul selectat"  # ANAF
TOO_MANY_MESSAGES = "Lista de mesaje este mai mare decat numarul de {limit} elemente permise in pagina. " \
                    "Folositi endpoint-ul cu paginatie."  # sandbox (ANAF: "use the paginated call")
LIST_LIMIT = "S-au facut deja {limit} de interogari de tip lista mesaje de catre CUI={cif} in cursul zilei"  # ANAF
PAGED_LIST_LIMIT = "S-au facut deja {limit} de interogari de tip lista mesaje paginata de catre CUI={cif} " \
                   "in cursul zilei"  # sandbox
TIME_NOT_NUMBER = "{name} introdus= {value} nu este un numar"  # sandbox
PAGE_NOT_NUMBER = "Pagina introdusa= {value} nu este un numar intreg"  # sandbox
START_TOO_OLD = "startTime nu poate fi mai vechi de 60 de zile"  # sandbox
END_IN_FUTURE = "endTime nu poate fi in viitor"  # ANAF
START_AFTER_END = "startTime trebuie sa fie mai mic decat endTime"  # sandbox
PAGE_TOO_HIGH = "Pagina solicitata {page} este mai mare decat numarul total de pagini {pages}"  # ANAF

# descarcare (JSON {"eroare", "titlu"})
DOWNLOAD_NOT_INTEGER = "Id descarcare introdus= {value} nu este un numar intreg"  # ANAF
NO_SUCH_DOWNLOAD = "Pentru id={id} nu exista inregistrata nici o factura"  # ANAF
NO_RIGHTS_DOWNLOAD = "Nu aveti dreptul sa descarcati acesta factura"  # ANAF
DOWNLOAD_LIMIT = "S-au facut deja {limit} descarcari la mesajul cu id_descarcare={id} in cursul zilei"  # ANAF
DOWNLOAD_EXPIRED = "Fisierul nu mai poate fi descarcat pentru ca a trecut perioada de 60 de zile " \
                   "in care este disponibil"  # ANAF

# processing (error XML)
DUPLICATE = "Factura a mai fost transmisa anterior cu index={index} si data incarcare={day}"  # ANAF
SELLER_UNKNOWN = "E: validari globale\n eroare regula: R6.1: CIF-ul vanzatorului nu figureaza in baza de " \
                 "date:{cif}"  # ANAF
SELLER_NOT_UPLOADER = "E: validari globale\n eroare regula: R6.2: CIF-ul vanzatorului ({seller}) nu " \
                      "corespunde cu CIF-ul pentru care s-a facut transmiterea ({cif})"  # sandbox
BUYER_NOT_UPLOADER = "E: validari globale\n eroare regula: R6.3: la autofacturare CIF-ul cumparatorului " \
                     "({buyer}) trebuie sa fie CIF-ul pentru care s-a facut transmiterea ({cif})"  # sandbox

# validare / transformare
BAD_VALIDATION_STANDARD = "Valorile acceptate pentru parametrul standard sunt FACT1 si FCN"  # ANAF

# per-minute limit (HTTP 429)
MINUTE_LIMIT = "Limita de {limit} de apeluri pe minut a fost depasita. Reincercati dupa {seconds} secunde."  # sandbox

# processing details shown in the message lists
DETAILS_INVOICE = "Factura cu id_incarcare={index} emisa de cif_emitent={seller} pentru cif_beneficiar={buyer}"  # ANAF
DETAILS_ERRORS = "Erori de validare identificate la factura primita cu id_incarcare={index}"  # ANAF
DETAILS_RASP = "Mesaj cumparator cu id_incarcare={index} transmis de cif={cif}"  # sandbox


@dataclass
class Answer:
    """One HTTP answer of the sandbox, in ANAF's wire format (the routes only send it)."""

    body: bytes | str | dict[str, Any] | list[Any]
    status: int = 200
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    index_incarcare: int | None = None  # set when an upload was recorded

    @classmethod
    def xml(cls, text: str, status: int = 200) -> Answer:
        return cls(text, status, "application/xml")

    @classmethod
    def json(cls, data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Answer:
        return cls(data, status, "application/json", headers or {})


def upload_ok(index: int, when: datetime) -> str:
    return (f'{XML_HEAD}<header xmlns="{NS_UPLOAD}" dateResponse="{anaf_stamp(when)}" ExecutionStatus="0" '
            f'index_incarcare="{index}"/>\n')


def upload_error(message: str, when: datetime) -> str:
    return (f'{XML_HEAD}<header xmlns="{NS_UPLOAD}" dateResponse="{anaf_stamp(when)}" ExecutionStatus="1">\n'
            f"    <Errors errorMessage={quoteattr(message)}/>\n</header>\n")


def status_answer(stare: str, id_descarcare: int | None) -> str:
    download = f' id_descarcare="{id_descarcare}"' if id_descarcare is not None else ""
    return f'{XML_HEAD}<header xmlns="{NS_STATUS}" stare={quoteattr(stare)}{download}/>\n'


def status_error(message: str) -> str:
    return f'{XML_HEAD}<header xmlns="{NS_STATUS}">\n    <Errors errorMessage={quoteattr(message)}/>\n</header>\n'


def error_document(index: int, cif: str, messages: list[str]) -> bytes:
    """The error XML of a ``nok`` answer (``<index>.xml`` in its ZIP)."""
    rows = "".join(f"\n    <Error errorMessage={quoteattr(m)}/>" for m in messages)
    text = (f'{XML_HEAD}<header xmlns="{NS_ERRORS}" Index_incarcare="{index}" '
            f"Cif_emitent={quoteattr(cif)}>{rows}\n</header>\n")
    return text.encode("utf-8")


def list_error(message: str, title: str = TITLE_LIST) -> dict[str, Any]:
    return {"eroare": message, "titlu": title}


def bad_request(message: str, when: datetime, status: int = 400, error: str = "Bad Request") -> dict[str, Any]:
    """The gateway's JSON for a missing parameter (HTTP 400) and other HTTP-level errors."""
    return {"timestamp": bucharest(when).strftime("%d-%m-%Y %H:%M:%S"), "status": status, "error": error,
            "message": message}


def missing_parameter(name: str) -> str:
    return f"Parametrul {name} este obligatoriu"  # ANAF


MAINTENANCE_PAGE = """<!DOCTYPE html>
<html lang="ro"><head><meta charset="utf-8"><title>Mentenanta</title></head>
<body><h1>Serviciul este temporar indisponibil</h1>
<p>Ne cerem scuze, aplicatia este in mentenanta. Va rugam reveniti mai tarziu.</p></body></html>
"""

REJECTED_PAGE = """<html><head><title>Request Rejected</title></head><body>The requested URL was rejected.
Please consult with your administrator.<br><br>Your support ID is: {support_id}<br><br>
<a href='javascript:history.back();'>[Go Back]</a></body></html>"""

PLAIN_TEXT_ERROR = "Serviciul nu este disponibil momentan. Va rugam reveniti."
