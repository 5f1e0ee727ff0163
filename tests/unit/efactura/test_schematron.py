"""The Schematron-to-XSLT compiler, on small hand-written schemas and on ANAF's bundle."""

from __future__ import annotations

import textwrap
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from punte.efactura import schematron
from punte.efactura.schematron import (
    COMPILER_VERSION,
    SchematronError,
    compile_schematron,
    load_or_compile,
    may_match_attributes,
    substitute_params,
)
from punte.efactura.validator import Validator, saxon_processor

SCH = "http://purl.oclc.org/dsdl/schematron"
DOC = "<r><item n='1'>a</item><item n='2'>b</item><other/></r>"


def write_schema(directory: Path, body: str, name: str = "main.sch", attrs: str = "") -> Path:
    """Write a Schematron schema file and return the bundle directory."""
    directory.mkdir(parents=True, exist_ok=True)
    text = f'<schema xmlns="{SCH}" queryBinding="xslt2" {attrs}>{textwrap.dedent(body)}</schema>'
    (directory / name).write_text(text, encoding="utf-8")
    return directory


def run(bundle: Path, document: str = DOC, driver: str = "main.sch") -> list[dict[str, str]]:
    """Compile the bundle, run it on ``document`` and return the findings as dicts."""
    xslt = compile_schematron(bundle, driver)
    proc = saxon_processor()
    executable = proc.new_xslt30_processor().compile_stylesheet(stylesheet_text=xslt)
    output = executable.transform_to_string(xdm_node=proc.parse_xml(xml_text=document))
    root = etree.fromstring(output.encode("utf-8"))
    return [{**f.attrib, "text": " ".join("".join(f.itertext()).split())} for f in root.iter("finding")]


def ids(findings: list[dict[str, str]]) -> list[str]:
    return [f["id"] for f in findings]


def test_failed_assert_is_a_finding_and_passing_assert_is_not(tmp_path: Path) -> None:
    bundle = write_schema(
        tmp_path,
        """<pattern><rule context="item">
             <assert id="A-ok" test="@n">has n</assert>
             <assert id="A-bad" test="@missing">needs missing</assert>
           </rule></pattern>""",
    )
    assert ids(run(bundle)) == ["A-bad", "A-bad"]


def test_report_fires_when_its_test_is_true(tmp_path: Path) -> None:
    bundle = write_schema(tmp_path, '<pattern><rule context="item"><report id="R" test="@n = 2">two</report></rule></pattern>')
    findings = run(bundle)
    assert [(f["id"], f["kind"], f["location"]) for f in findings] == [("R", "report", "/r/item[2]")]


def test_only_the_first_matching_rule_of_a_pattern_fires(tmp_path: Path) -> None:
    bundle = write_schema(
        tmp_path,
        """<pattern>
             <rule context="item[@n = 1]"><report id="first" test="true()">x</report></rule>
             <rule context="item"><report id="second" test="true()">x</report></rule>
           </pattern>""",
    )
    assert ids(run(bundle)) == ["first", "second"]  # item 1 -> first only; item 2 -> second


def test_rules_of_different_patterns_fire_on_the_same_node(tmp_path: Path) -> None:
    bundle = write_schema(
        tmp_path,
        """<pattern id="p1"><rule context="other"><report id="one" test="true()">x</report></rule></pattern>
           <pattern id="p2"><rule context="other"><report id="two" test="true()">x</report></rule></pattern>""",
    )
    assert [(f["id"], f["pattern"]) for f in run(bundle)] == [("one", "p1"), ("two", "p2")]


def test_attribute_contexts_are_visited(tmp_path: Path) -> None:
    bundle = write_schema(tmp_path, '<pattern><rule context="item/@n"><report id="AT" test=". = 2">x</report></rule></pattern>')
    assert [(f["id"], f["location"]) for f in run(bundle)] == [("AT", "/r/item[2]/@n")]


@pytest.mark.parametrize(
    ("context", "expected"),
    [("//@currencyID", True), ("item/@n | other", True), ("(//a | //b/@c)", True), ("attribute::n", True),
     ("x[@y]", False), ("a[b[@c]]/d", False), ("a[. = '@x']", False)],
)
def test_only_contexts_ending_on_the_attribute_axis_make_a_pattern_visit_attributes(context: str, expected: bool) -> None:
    assert may_match_attributes(context) is expected


def test_message_evaluates_value_of_and_name(tmp_path: Path) -> None:
    bundle = write_schema(
        tmp_path,
        """<pattern><rule context="item[@n = 2]">
             <report id="V" test="true()">Element <name/> holds '<value-of select="."/>' (n=<value-of select="@n"/>)</report>
           </rule></pattern>""",
    )
    assert run(bundle)[0]["text"] == "Element item holds 'b' (n=2)"


def test_flag_comes_from_the_check_then_the_rule_then_defaults_to_fatal(tmp_path: Path) -> None:
    bundle = write_schema(
        tmp_path,
        """<pattern><rule context="other" flag="warning">
             <report id="inherits" test="true()">x</report>
             <report id="own" flag="fatal" test="true()">x</report>
           </rule></pattern>
           <pattern><rule context="other"><report id="default" test="true()">x</report></rule></pattern>""",
    )
    assert {f["id"]: f["flag"] for f in run(bundle)} == {"inherits": "warning", "own": "fatal", "default": "fatal"}


def test_let_works_at_schema_pattern_and_rule_level(tmp_path: Path) -> None:
    bundle = write_schema(
        tmp_path,
        """<let name="items" value="count(//item)"/>
           <pattern>
             <let name="wanted" value="concat('b', '')"/>
             <rule context="item">
               <let name="mine" value="string(.)"/>
               <report id="L" test="$mine = $wanted and $items = 2">found <value-of select="$mine"/></report>
             </rule>
           </pattern>""",
    )
    assert [(f["id"], f["location"], f["text"]) for f in run(bundle)] == [("L", "/r/item[2]", "found b")]


def test_pattern_lets_with_the_same_name_stay_separate(tmp_path: Path) -> None:
    bundle = write_schema(
        tmp_path,
        """<pattern><let name="v" value="'first'"/>
             <rule context="other"><report id="P1" test="true()"><value-of select="$v"/></report></rule></pattern>
           <pattern><let name="v" value="'second'"/>
             <rule context="other"><report id="P2" test="$v = 'second'"><value-of select="$v"/></report></rule></pattern>""",
    )
    assert [(f["id"], f["text"]) for f in run(bundle)] == [("P1", "first"), ("P2", "second")]


def test_abstract_pattern_is_instantiated_with_params(tmp_path: Path) -> None:
    bundle = write_schema(
        tmp_path,
        """<pattern abstract="true" id="abs">
             <rule context="$Thing"><assert id="ABS-1" test="$BR-1">one</assert><assert id="ABS-10" test="$BR-10">ten</assert></rule>
           </pattern>
           <pattern is-a="abs" id="concrete">
             <param name="Thing " value="item"/>
             <param name="BR-1" value="@n = 1"/>
             <param name="BR-10" value="string(.) = 'b'"/>
           </pattern>""",
    )
    assert [(f["id"], f["location"], f["pattern"]) for f in run(bundle)] == [
        ("ABS-10", "/r/item[1]", "concrete"),
        ("ABS-1", "/r/item[2]", "concrete"),
    ]


def test_substitute_params_replaces_whole_variable_names_only() -> None:
    params = {"BR-1": "A", "BR-10": "B"}
    assert substitute_params("$BR-1 and $BR-10 and $BR-100", params) == "A and B and $BR-100"


def test_include_is_resolved_relative_to_the_including_file(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "p.sch").write_text(
        f'<pattern xmlns="{SCH}" id="inc"><rule context="other"><report id="INC" test="true()">x</report></rule></pattern>'
    )
    bundle = write_schema(tmp_path, '<include href="parts/p.sch"/>')
    assert ids(run(bundle)) == ["INC"]


def test_default_phase_limits_the_active_patterns(tmp_path: Path) -> None:
    bundle = write_schema(
        tmp_path,
        """<phase id="only-b"><active pattern="b"/></phase>
           <pattern id="a"><rule context="other"><report id="A" test="true()">x</report></rule></pattern>
           <pattern id="b"><rule context="other"><report id="B" test="true()">x</report></rule></pattern>""",
        attrs='defaultPhase="only-b"',
    )
    assert ids(run(bundle)) == ["B"]


def test_ns_declarations_bind_prefixes_in_contexts_and_tests(tmp_path: Path) -> None:
    bundle = write_schema(
        tmp_path,
        """<ns prefix="q" uri="urn:q"/>
           <pattern><rule context="q:a"><report id="NS" test="q:b">x</report></rule></pattern>""",
    )
    assert ids(run(bundle, document="<a xmlns='urn:q'><b/></a>")) == ["NS"]


def test_abstract_rule_is_reused_through_extends(tmp_path: Path) -> None:
    bundle = write_schema(
        tmp_path,
        """<pattern>
             <rule abstract="true" id="base"><report id="EXT" test="true()">x</report></rule>
             <rule context="other"><extends rule="base"/></rule>
           </pattern>""",
    )
    assert ids(run(bundle)) == ["EXT"]


def test_unknown_is_a_is_rejected(tmp_path: Path) -> None:
    bundle = write_schema(tmp_path, '<pattern is-a="nowhere" id="x"/>')
    with pytest.raises(SchematronError, match="nowhere"):
        compile_schematron(bundle, "main.sch")


def test_include_cycle_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "loop.sch").write_text(f'<pattern xmlns="{SCH}"><include href="loop.sch"/></pattern>')
    bundle = write_schema(tmp_path, '<include href="loop.sch"/>')
    with pytest.raises(SchematronError, match="cycle"):
        compile_schematron(bundle, "main.sch")


def test_zip_bundles_are_read_like_directories(tmp_path: Path) -> None:
    source = write_schema(tmp_path / "src", '<pattern><rule context="other"><report id="Z" test="true()">x</report></rule></pattern>')
    archive = tmp_path / "b.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(source / "main.sch", "top/main.sch")
    assert ids(run(archive)) == ["Z"]


def test_load_or_compile_writes_the_cache_then_reads_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = write_schema(tmp_path / "b", '<pattern><rule context="other"><report id="C" test="true()">x</report></rule></pattern>')
    first = load_or_compile(bundle, tmp_path / "cache", "main.sch")
    assert not first.from_cache and first.path is not None and COMPILER_VERSION in first.path.name

    def no_compiling(*args: object) -> str:
        raise AssertionError("compiled again")

    monkeypatch.setattr(schematron, "compile_schematron", no_compiling)
    second = load_or_compile(bundle, tmp_path / "cache", "main.sch")
    assert second.from_cache and second.xslt == first.xslt and second.path == first.path


def test_cache_key_changes_with_the_bundle_content(tmp_path: Path) -> None:
    bundle = write_schema(tmp_path / "b", '<pattern><rule context="other"><report id="C1" test="true()">x</report></rule></pattern>')
    first = load_or_compile(bundle, tmp_path / "cache", "main.sch")
    write_schema(tmp_path / "b", '<pattern><rule context="other"><report id="C2" test="true()">x</report></rule></pattern>')
    second = load_or_compile(bundle, tmp_path / "cache", "main.sch")
    assert not second.from_cache and second.path != first.path and "C2" in second.xslt


def test_anaf_bundle_compiles_every_pattern_of_the_driver(validator: Validator) -> None:
    xslt = etree.fromstring(validator.compiled.xslt.encode("utf-8"))
    modes = {t.get("mode") for t in xslt.iter("{http://www.w3.org/1999/XSL/Transform}template") if t.get("mode")}
    assert modes == {"psch:p0", "psch:p1", "psch:p2", "psch:p3"}  # UBL-model, UBL-syntax, Codesmodel, ROmodel
    assert {f.get("pattern") for f in xslt.iter("finding")} == {"UBL-model", "UBL-syntax", "Codesmodel", "ROmodel"}
