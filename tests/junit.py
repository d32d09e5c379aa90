"""junit.xml as CI systems read it: tests/junit.xsd (checked by libxml2, through lxml) and junitparser."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

JUNIT_XSD = Path(__file__).with_name("junit.xsd")


def junit_schema_errors(text: str) -> list[str]:
    """What libxml2 says is wrong with a JUnit report against tests/junit.xsd (empty: valid)."""
    schema = etree.XMLSchema(etree.parse(str(JUNIT_XSD)))
    document = etree.fromstring(text.encode())
    if schema.validate(document):
        return []
    return [f"line {error.line}: {error.message}" for error in schema.error_log]
