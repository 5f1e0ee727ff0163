"""Local validation of RO e-Factura documents: UBL 2.1 XSD first, then ANAF's Schematron rules.

Pipeline of :meth:`Validator.validate`:

1. Parse with lxml (no network, no entity expansion; a DOCTYPE is refused). Not well-formed
   input gives one fatal finding with rule id ``XML``.
2. The root element must be a UBL ``Invoice`` or ``CreditNote`` (rule id ``ROOT`` otherwise).
3. XSD validation against ``maindoc/UBL-Invoice-2.1.xsd`` or ``maindoc/UBL-CreditNote-2.1.xsd``.
   Every XSD error is a fatal finding with rule id ``XSD``; when there is one, the Schematron
   step is skipped, because malformed values (a non-numeric amount, say) make the rules'
   XPath fail with type errors instead of findings.
4. The Schematron rules, compiled to XSLT by :mod:`punte.efactura.schematron` and run with
   Saxon (saxonche). Failed ``assert`` and fired ``report`` both become findings.

Threads: one shared ``PySaxonProcessor`` per process (older SaxonC could not create a second),
created lazily under a lock. A :class:`Validator` compiles its stylesheet once; every thread
that calls :meth:`Validator.validate` gets its own clone of the compiled executable (held in
a ``threading.local``), because the executable keeps per-run state such as the global
context item. lxml's ``XMLSchema`` objects store their error log on the instance, so XSD
validation runs under a per-validator lock (it takes well under a millisecond). saxonche
does not release the GIL, so threads give safety, not parallelism: to use several cores,
run several worker processes (each builds its own validator; the compiled XSLT is shared
through the on-disk cache).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lxml import etree
from saxonche import PySaxonApiError, PySaxonProcessor, PyXsltExecutable

from punte.efactura.schematron import DEFAULT_DRIVER, CompiledSchematron, SchematronError, load_or_compile

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
_ROOTS = {
    f"{{{INVOICE_NS}}}Invoice": "maindoc/UBL-Invoice-2.1.xsd",
    f"{{{CREDIT_NOTE_NS}}}CreditNote": "maindoc/UBL-CreditNote-2.1.xsd",
}
_FATAL_FLAGS = frozenset({"fatal", "error"})
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")

Flag = Literal["fatal", "warning"]
Source = Literal["xsd", "schematron"]


@dataclass(frozen=True)
class Finding:
    """One problem found in a document.

    ``rule_id`` is the Schematron ``id`` (``BR-RO-001``; ANAF's ids are kept as they are, so
    BR-RO-020 appears as ``BR-RO-020_1``/``_2``), ``XSD`` for schema errors, ``XML`` for
    unparsable input, ``ROOT`` for a document that is neither Invoice nor CreditNote (these
    three have ``source="xsd"``: the structural stage) and ``SCHEMATRON`` when the rules hit
    a dynamic error on the document.
    ``location`` is an XPath-like path to the offending node (``/Invoice/cac:InvoiceLine[2]``).
    """

    rule_id: str
    flag: Flag
    location: str
    text: str
    source: Source


@dataclass(frozen=True)
class Report:
    """The findings of one validation run, in document/rule order."""

    findings: tuple[Finding, ...]

    @property
    def fatal(self) -> list[Finding]:
        """Findings that make ANAF reject the document."""
        return [f for f in self.findings if f.flag == "fatal"]

    @property
    def warnings(self) -> list[Finding]:
        """Findings that ANAF reports but accepts."""
        return [f for f in self.findings if f.flag != "fatal"]

    @property
    def ok(self) -> bool:
        """True when there is no fatal finding (warnings do not count)."""
        return not self.fatal

    def rule_ids(self, flag: Flag | None = "fatal") -> set[str]:
        """Distinct rule ids, of fatal findings by default (``flag=None``: all findings)."""
        return {f.rule_id for f in self.findings if flag is None or f.flag == flag}

    def as_text(self) -> str:
        """A readable multi-line summary."""
        head = "valid" if self.ok else "INVALID"
        lines = [f"e-Factura validation: {head} ({len(self.fatal)} fatal, {len(self.warnings)} warnings)"]
        for f in self.findings:
            lines.append(f"[{f.flag}] {f.rule_id} at {f.location} ({f.source}): {f.text}")
        return "\n".join(lines)


_processor_lock = threading.Lock()
_processor: PySaxonProcessor | None = None


def saxon_processor() -> PySaxonProcessor:
    """The process-wide Saxon processor (created on first use)."""
    global _processor
    with _processor_lock:
        if _processor is None:
            _processor = PySaxonProcessor(license=False)
        return _processor


def _fatal(rule_id: str, location: str, text: str) -> Report:
    return Report((Finding(rule_id, "fatal", location, text, "xsd"),))


class Validator:
    """Validates UBL invoices and credit notes with the XSD and a compiled Schematron bundle.

    Build it once and reuse it; :meth:`validate` is safe to call from many threads. Building
    takes about a second: the Schematron-to-XSLT step (~0.1 s) is skipped when ``cache_dir``
    already holds the compiled XSLT, Saxon's own compilation (~0.9 s) happens per Validator
    (Saxon-HE cannot save a compiled stylesheet). ``compiled`` tells where the XSLT came from.
    """

    def __init__(
        self,
        bundle: Path,
        xsd_dir: Path,
        cache_dir: Path | None = None,
        *,
        driver: str = DEFAULT_DRIVER,
    ) -> None:
        """Compile (or load from ``cache_dir``) the rules in ``bundle`` and load the UBL XSDs from ``xsd_dir``."""
        self.compiled: CompiledSchematron = load_or_compile(Path(bundle), cache_dir, driver)
        self._schemas: dict[str, etree.XMLSchema] = {}
        for root_tag, relative in _ROOTS.items():
            path = Path(xsd_dir) / relative
            if not path.is_file():
                raise FileNotFoundError(f"UBL 2.1 schema not found: {path}")
            self._schemas[root_tag] = etree.XMLSchema(etree.parse(str(path)))
        self._xsd_lock = threading.Lock()
        self._proc = saxon_processor()
        with _processor_lock:
            try:
                self._executable: PyXsltExecutable = self._proc.new_xslt30_processor().compile_stylesheet(
                    stylesheet_text=self.compiled.xslt
                )
            except PySaxonApiError as exc:
                raise SchematronError(f"generated XSLT does not compile: {exc}") from exc
        self._local = threading.local()

    def _thread_executable(self) -> PyXsltExecutable:
        executable: PyXsltExecutable | None = getattr(self._local, "executable", None)
        if executable is None:
            executable = self._local.executable = self._executable.clone()
        return executable

    def validate_file(self, path: Path) -> Report:
        """Validate the document stored at ``path``."""
        return self.validate(Path(path).read_bytes())

    def validate(self, document: bytes | str) -> Report:
        """Validate one UBL Invoice or CreditNote (bytes as stored, or text) and return its report."""
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
        try:
            if isinstance(document, str):
                root = etree.fromstring(_XML_DECLARATION.sub("", document, count=1), parser)
            else:
                root = etree.fromstring(document, parser)
        except etree.XMLSyntaxError as exc:
            return _fatal("XML", f"line {exc.lineno}", f"The document is not well-formed XML: {exc.msg}")
        tree = root.getroottree()
        if tree.docinfo.doctype:
            return _fatal("XML", "/", "DOCTYPE declarations are not allowed in an e-Factura document.")
        schema = self._schemas.get(root.tag)
        if schema is None:
            return _fatal(
                "ROOT",
                "/",
                f"The root element is {root.tag}; expected a UBL 2.1 Invoice ({{{INVOICE_NS}}}Invoice) "
                f"or CreditNote ({{{CREDIT_NOTE_NS}}}CreditNote).",
            )
        with self._xsd_lock:
            valid = schema.validate(tree)
            errors = list(schema.error_log)
        if not valid:
            return Report(
                tuple(
                    Finding("XSD", "fatal", e.path or f"line {e.line}", f"line {e.line}: {e.message}", "xsd")
                    for e in errors
                )
            )
        return Report(self._run_schematron(etree.tostring(root, encoding="unicode")))

    def _run_schematron(self, text: str) -> tuple[Finding, ...]:
        executable = self._thread_executable()
        try:
            node = self._proc.parse_xml(xml_text=text, encoding="UTF-8")
            output = executable.transform_to_string(xdm_node=node)  # also sets the global context item
        except PySaxonApiError as exc:  # a dynamic XPath error: the document is not proven valid
            message = " ".join(str(exc).split())
            return (Finding("SCHEMATRON", "fatal", "/", f"The rules could not be evaluated: {message}", "schematron"),)
        if output is None:
            raise SchematronError("the compiled rules produced no output")
        result = etree.fromstring(output.encode("utf-8"))
        findings = []
        for el in result.iterchildren("finding"):
            flag: Flag = "fatal" if el.get("flag", "fatal").lower() in _FATAL_FLAGS else "warning"
            text_value = " ".join("".join(el.itertext()).split())
            findings.append(Finding(el.get("id", ""), flag, el.get("location", ""), text_value, "schematron"))
        return tuple(findings)
