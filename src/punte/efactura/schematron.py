"""A Schematron-to-XSLT compiler, written for ANAF's e-Factura rule bundle.

It reads an ISO Schematron schema (``queryBinding="xslt2"``) from a zip bundle or a directory
and emits one XSLT 2.0 stylesheet whose output is a flat list of findings::

    <findings><finding id="BR-RO-001" flag="fatal" kind="assert" pattern="ROmodel" location="/Invoice">text</finding></findings>

Supported: ``include``; abstract patterns instantiated with ``is-a``/``param`` (textual
substitution of whole ``$name`` references in context, test, select, path and let expressions,
as in the ISO standard); ``phase``/``active`` (``defaultPhase``, else every concrete pattern);
``ns``; ``let`` at schema, pattern and rule level; ``rule`` (with abstract rules and ``extends``);
``assert`` and ``report``; ``value-of``, ``name``, ``emph``/``dir``/``span`` in messages; ``flag``, ``id``.

Semantics: within a pattern only the first rule whose context matches a node fires (one XSLT
mode per pattern, templates with descending priorities). Each pattern walks every element, and
every attribute when one of its contexts can match attributes; text nodes are never contexts.
Schema and pattern ``let`` are global variables (pattern ones renamed on a name clash), rule
``let`` are local. A check without ``flag`` takes the rule's, else ``fatal``.
:func:`load_or_compile` caches the XSLT on disk by bundle sha256 and :data:`COMPILER_VERSION`.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

#: Bump whenever the generated XSLT changes, so stale cache entries are ignored.
COMPILER_VERSION = "2"
#: The driver schema inside ANAF's ``ro16931-ubl-*.zip``.
DEFAULT_DRIVER = "EN16931-CIUS_RO-UBL-validation.sch"

SCH_NS = "http://purl.oclc.org/dsdl/schematron"
XSL_NS = "http://www.w3.org/1999/XSL/Transform"
XS_NS = "http://www.w3.org/2001/XMLSchema"
_INTERNAL_NS = "urn:punte:schematron:internal"
_INTERNAL_PREFIX = "psch"

_VAR_REF = re.compile(r"\$([A-Za-z_][\w.\-]*)")
_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_EXPRESSION_ATTRS = ("context", "test", "select", "path", "value")


class SchematronError(Exception):
    """The schema cannot be read or uses Schematron this compiler does not handle."""


def _s(local: str) -> str:
    return f"{{{SCH_NS}}}{local}"


def _x(parent: etree._Element, local: str, **attrs: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{XSL_NS}}}{local}", attrs)


# --------------------------------------------------------------------------- reading


class _Bundle:
    """The files of a zip bundle or a directory, in memory, by POSIX path (ANAF's is under 1 MB)."""

    def __init__(self, path: Path) -> None:
        if path.is_dir():
            self.files = {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                self.files = {n: zf.read(n) for n in zf.namelist() if not n.endswith("/")}
        else:
            raise SchematronError(f"{path} is neither a directory nor a zip file")

    def read(self, name: str) -> bytes:
        if name not in self.files:
            raise SchematronError(f"missing file in bundle: {name}")
        return self.files[name]

    def find(self, basename: str) -> str:
        hits = [n for n in self.files if posixpath.basename(n) == basename]
        if not hits:
            raise SchematronError(f"no {basename} in bundle")
        return min(hits, key=lambda n: (n.count("/"), n))


_PARSER = etree.XMLParser(remove_comments=True, remove_pis=True, resolve_entities=False, no_network=True)


def _load(bundle: _Bundle, name: str, stack: tuple[str, ...] = ()) -> etree._Element:
    """Parse ``name`` and replace every ``sch:include`` by the included document's root."""
    if name in stack:
        raise SchematronError("include cycle: " + " -> ".join((*stack, name)))
    try:
        root = etree.fromstring(bundle.read(name), _PARSER)
    except etree.XMLSyntaxError as exc:
        raise SchematronError(f"{name}: {exc}") from exc
    base = posixpath.dirname(name)
    for inc in list(root.iter(_s("include"))):
        href = inc.get("href", "")
        if not href or "#" in href:
            raise SchematronError(f"{name}: unsupported include href {href!r}")
        child = _load(bundle, posixpath.normpath(posixpath.join(base, href)), (*stack, name))
        parent = inc.getparent()
        if parent is None:
            return child
        child.tail = inc.tail
        parent.replace(inc, child)
    return root


# --------------------------------------------------------------------------- model


@dataclass
class _Check:
    kind: str  # "assert" | "report"
    rule_id: str
    flag: str
    test: str
    message: list[tuple[str, str]]  # ("text", s) | ("name", path) | ("value-of", select)


@dataclass
class _Rule:
    context: str
    lets: list[tuple[str, str]] = field(default_factory=list)
    checks: list[_Check] = field(default_factory=list)


@dataclass
class _Pattern:
    id: str
    lets: list[tuple[str, str]] = field(default_factory=list)
    rules: list[_Rule] = field(default_factory=list)


def substitute_params(expr: str, params: dict[str, str]) -> str:
    """Replace ``$name`` by the parameter's text, whole variable names only (``$BR-1`` never hits ``$BR-10``)."""
    return _VAR_REF.sub(lambda m: params.get(m.group(1), m.group(0)), expr)


def _rename_vars(expr: str, renames: dict[str, str]) -> str:
    """Rename variable references outside string literals."""
    if not renames:
        return expr
    out, pos = [], 0
    for lit in _STRING_LITERAL.finditer(expr):
        out.append(_VAR_REF.sub(lambda m: "$" + renames.get(m.group(1), m.group(1)), expr[pos : lit.start()]))
        out.append(lit.group(0))
        pos = lit.end()
    out.append(_VAR_REF.sub(lambda m: "$" + renames.get(m.group(1), m.group(1)), expr[pos:]))
    return "".join(out)


def _let(el: etree._Element) -> tuple[str, str]:
    name, value = el.get("name"), el.get("value")
    if not name or value is None:
        raise SchematronError(f"let {name!r}: only let with a value attribute is supported")
    return name, value


def _message(el: etree._Element) -> list[tuple[str, str]]:
    parts: list[tuple[str, str]] = [("text", el.text)] if el.text else []
    for child in el:
        local = etree.QName(child).localname if isinstance(child.tag, str) else ""
        if local == "name":
            parts.append(("name", child.get("path", ".")))
        elif local == "value-of":
            parts.append(("value-of", child.get("select", ".")))
        else:  # emph, dir, span or foreign markup: keep the text
            parts.extend(_message(child))
        if child.tail:
            parts.append(("text", child.tail))
    return parts


def _build_rule(el: etree._Element, abstract_rules: dict[str, etree._Element], seen: tuple[str, ...] = ()) -> _Rule:
    rule = _Rule(context=el.get("context", ""))
    rule_flag = el.get("flag", "fatal")
    for child in el:
        local = etree.QName(child).localname
        if local == "let":
            rule.lets.append(_let(child))
        elif local in ("assert", "report"):
            rule.checks.append(
                _Check(local, child.get("id", ""), child.get("flag", rule_flag), child.get("test", "true()"), _message(child))
            )
        elif local == "extends":
            ref = child.get("rule", "")
            if ref not in abstract_rules or ref in seen:
                raise SchematronError(f"rule extends unknown or recursive abstract rule {ref!r}")
            base = _build_rule(abstract_rules[ref], abstract_rules, (*seen, ref))
            rule.lets.extend(base.lets)
            rule.checks.extend(base.checks)
    return rule


def _substituted(pattern: etree._Element, params: dict[str, str]) -> etree._Element:
    """A deep copy of an abstract pattern with its ``$param`` references replaced."""
    copy = etree.fromstring(etree.tostring(pattern))
    for el in copy.iter():
        for attr in _EXPRESSION_ATTRS:
            if el is not copy and attr in el.attrib:
                el.set(attr, substitute_params(el.attrib[attr], params))
    return copy


def _patterns(schema: etree._Element, phase: str | None) -> list[_Pattern]:
    all_patterns = schema.findall(_s("pattern"))
    abstract = {p.get("id"): p for p in all_patterns if p.get("abstract") == "true"}
    wanted_phase = phase or schema.get("defaultPhase")
    active: set[str] | None = None
    if wanted_phase and wanted_phase != "#ALL":
        phase_el = next((ph for ph in schema.findall(_s("phase")) if ph.get("id") == wanted_phase), None)
        if phase_el is None:
            raise SchematronError(f"unknown phase {wanted_phase!r}")
        active = {a.get("pattern", "") for a in phase_el.findall(_s("active"))}
    shared_abstract_rules = {r.get("id", ""): r for rules in schema.findall(_s("rules")) for r in rules.findall(_s("rule"))}

    result: list[_Pattern] = []
    for i, el in enumerate(all_patterns):
        if el.get("abstract") == "true":
            continue
        pid = el.get("id") or f"pattern{i}"
        if active is not None and pid not in active:
            continue
        body = el
        if el.get("is-a"):
            if el.get("is-a") not in abstract:
                raise SchematronError(f"pattern {pid}: is-a names unknown abstract pattern {el.get('is-a')!r}")
            params: dict[str, str] = {}
            for p in el.findall(_s("param")):  # names may carry stray spaces; the first definition wins
                params.setdefault(p.get("name", "").strip(), p.get("value", ""))
            body = _substituted(abstract[el.get("is-a")], params)
        abstract_rules = dict(shared_abstract_rules)
        abstract_rules.update({r.get("id", ""): r for r in body.findall(_s("rule")) if r.get("abstract") == "true"})
        pattern = _Pattern(id=pid, lets=[_let(x) for x in body.findall(_s("let"))])
        for r in body.findall(_s("rule")):
            if r.get("abstract") != "true":
                pattern.rules.append(_build_rule(r, abstract_rules))
        result.append(pattern)
    return result


def _isolate_pattern_lets(schema_lets: list[tuple[str, str]], patterns: list[_Pattern]) -> None:
    """Give pattern variables that collide with other globals a pattern-specific name."""
    taken = {name for name, _ in schema_lets}
    for index, pattern in enumerate(patterns):
        renames = {n: f"{n}__p{index}" for n, _ in pattern.lets if n in taken}
        taken.update(renames.get(n, n) for n, _ in pattern.lets)
        if not renames:
            continue
        pattern.lets = [(renames.get(n, n), _rename_vars(v, renames)) for n, v in pattern.lets]
        for rule in pattern.rules:
            local = {k: v for k, v in renames.items() if k not in {n for n, _ in rule.lets}}
            rule.context = _rename_vars(rule.context, renames)
            rule.lets = [(n, _rename_vars(v, local)) for n, v in rule.lets]
            for check in rule.checks:
                check.test = _rename_vars(check.test, local)
                check.message = [(k, v if k == "text" else _rename_vars(v, local)) for k, v in check.message]


# --------------------------------------------------------------------------- emitting

_LOCATION_FUNCTIONS = f"""
<xsl:stylesheet version="2.0" xmlns:xsl="{XSL_NS}" xmlns:xs="{XS_NS}" xmlns:{_INTERNAL_PREFIX}="{_INTERNAL_NS}">
  <xsl:function name="psch:location" as="xs:string">
    <xsl:param name="node" as="node()"/>
    <xsl:sequence select="if ($node instance of document-node()) then '/' else string-join(
        for $n in $node/ancestor-or-self::node()[not(self::document-node())] return psch:step($n), '')"/>
  </xsl:function>
  <xsl:function name="psch:step" as="xs:string">
    <xsl:param name="n" as="node()"/>
    <xsl:variable name="same" select="$n/preceding-sibling::*[node-name(.) eq node-name($n)]"/>
    <xsl:sequence select="
      if ($n instance of attribute()) then concat('/@', name($n))
      else if (not($n instance of element())) then concat('/node()[', count($n/preceding-sibling::node()) + 1, ']')
      else if (exists($same) or exists($n/following-sibling::*[node-name(.) eq node-name($n)]))
        then concat('/', name($n), '[', count($same) + 1, ']')
      else concat('/', name($n))"/>
  </xsl:function>
</xsl:stylesheet>
"""


def _strip_predicates(expr: str) -> str:
    """Drop string literals and bracketed predicates, keeping the path skeleton of a pattern."""
    out, depth = [], 0
    for ch in _STRING_LITERAL.sub("''", expr):
        depth += (ch == "[") - (ch == "]" and depth > 0)
        if depth == 0 and ch != "]":
            out.append(ch)
    return "".join(out)


def may_match_attributes(context: str) -> bool:
    """Whether a rule context can match attributes (its last step is on the attribute axis).

    A pattern none of whose contexts can match attributes skips them in its walk (much faster).
    """
    skeleton = _strip_predicates(context).replace("(", " ").replace(")", " ")
    for alternative in skeleton.split("|"):
        last = alternative.strip().rsplit("/", 1)[-1].strip()
        if last.startswith("@") or last.startswith("attribute::") or last.startswith("attribute("):
            return True
    return False


def _avt_literal(value: str) -> str:
    return value.replace("{", "{{").replace("}", "}}")


def _emit_check(parent: etree._Element, check: _Check, pattern_id: str) -> None:
    test = f"not(({check.test}))" if check.kind == "assert" else check.test
    cond = _x(parent, "if", test=test)
    attrs = {"id": check.rule_id, "flag": check.flag, "kind": check.kind, "pattern": pattern_id}
    finding = etree.SubElement(cond, "finding", {k: _avt_literal(v) for k, v in attrs.items()})
    _x(finding, "attribute", name="location", select=f"{_INTERNAL_PREFIX}:location(.)")
    for kind, value in check.message:
        if kind == "text":
            _x(finding, "text").text = value
        elif kind == "name":
            _x(finding, "value-of", select=f"name({value})")
        else:
            _x(finding, "value-of", select=value)


def _emit(namespaces: dict[str, str], schema_lets: list[tuple[str, str]], patterns: list[_Pattern]) -> str:
    nsmap: dict[str, str] = {"xsl": XSL_NS, "xs": XS_NS, _INTERNAL_PREFIX: _INTERNAL_NS}
    for prefix, uri in namespaces.items():
        if prefix in nsmap and nsmap[prefix] != uri:
            raise SchematronError(f"namespace prefix {prefix!r} is reserved by the compiler")
        nsmap[prefix] = uri
    sheet = etree.Element(f"{{{XSL_NS}}}stylesheet", nsmap=nsmap)
    sheet.set("version", "2.0")
    sheet.set("exclude-result-prefixes", "#all")
    _x(sheet, "output", method="xml", encoding="UTF-8", indent="no")
    for name, value in schema_lets + [let for p in patterns for let in p.lets]:
        _x(sheet, "variable", name=name, select=value)
    for fn in etree.fromstring(_LOCATION_FUNCTIONS):
        sheet.append(fn)

    root_template = _x(sheet, "template", match="/")
    findings = etree.SubElement(root_template, "findings", {"compiler": COMPILER_VERSION})
    for index, pattern in enumerate(patterns):
        mode = f"{_INTERNAL_PREFIX}:p{index}"
        walk = "@*|*" if any(may_match_attributes(r.context) for r in pattern.rules) else "*"
        _x(findings, "apply-templates", select=".", mode=mode)
        count = len(pattern.rules)
        for position, rule in enumerate(pattern.rules):
            template = _x(sheet, "template", match=rule.context.strip(), mode=mode, priority=str(1000 + count - position))
            for name, value in rule.lets:
                _x(template, "variable", name=name, select=value)
            for check in rule.checks:
                _emit_check(template, check, pattern.id)
            _x(template, "apply-templates", select=walk, mode=mode)
        walker = _x(sheet, "template", match="/|*", mode=mode, priority="-10")
        _x(walker, "apply-templates", select=walk, mode=mode)
        _x(sheet, "template", match="@*|text()|comment()|processing-instruction()", mode=mode, priority="-10")
    return str(etree.tostring(sheet, encoding="unicode"))


def compile_schematron(bundle: Path, driver: str = DEFAULT_DRIVER, phase: str | None = None) -> str:
    """Compile the Schematron ``driver`` found in ``bundle`` (zip or directory) to XSLT 2.0 text."""
    source = _Bundle(Path(bundle))
    schema = _load(source, source.find(driver))
    if schema.tag != _s("schema"):
        raise SchematronError(f"{driver} is not a Schematron schema")
    binding = schema.get("queryBinding", "xslt2").lower()
    if binding not in ("xslt2", "xslt3", "xpath2", "xpath3", "xpath31"):
        raise SchematronError(f"unsupported queryBinding {binding!r}")
    namespaces = {ns.get("prefix", ""): ns.get("uri", "") for ns in schema.findall(_s("ns"))}
    schema_lets = [_let(x) for x in schema.findall(_s("let"))]
    patterns = _patterns(schema, phase)
    _isolate_pattern_lets(schema_lets, patterns)
    return _emit(namespaces, schema_lets, patterns)


# --------------------------------------------------------------------------- caching


def bundle_digest(bundle: Path) -> str:
    """sha256 of a zip bundle's bytes, or of a directory bundle's file names and contents."""
    digest = hashlib.sha256()
    bundle = Path(bundle)
    if bundle.is_dir():
        for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
            digest.update(path.relative_to(bundle).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    else:
        with bundle.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class CompiledSchematron:
    """Generated XSLT text plus where it came from."""

    xslt: str
    digest: str
    path: Path | None
    from_cache: bool


def load_or_compile(bundle: Path, cache_dir: Path | None, driver: str = DEFAULT_DRIVER) -> CompiledSchematron:
    """Return the compiled XSLT for ``bundle``, reading ``cache_dir`` first and filling it on a miss.

    The cache file is named after the bundle's sha256, the driver and :data:`COMPILER_VERSION`,
    so a changed bundle or compiler never reuses stale output. Writes are atomic.
    ``cache_dir=None`` compiles in memory only.
    """
    digest = bundle_digest(bundle)
    if cache_dir is None:
        return CompiledSchematron(compile_schematron(bundle, driver), digest, None, False)
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(driver).stem)
    target = Path(cache_dir) / f"{digest}-{stem}-c{COMPILER_VERSION}.xsl"
    if target.is_file():
        return CompiledSchematron(target.read_text(encoding="utf-8"), digest, target, True)
    xslt = compile_schematron(bundle, driver)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=".xsl")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(xslt)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return CompiledSchematron(xslt, digest, target, False)
