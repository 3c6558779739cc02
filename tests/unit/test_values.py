"""The plain values commands carry: text, decimals, dates (in UTC, from 2000 on), attributes, links."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.backoff import Backoff
from domain.exceptions import InvalidInput
from domain.values import attributes, evidence_url, iso_date, iso_datetime, plain_decimal, text


def test_a_date_time_with_an_offset_is_taken_in_utc_so_it_never_moves_across_a_close_date() -> None:
    assert iso_datetime("2026-03-02T01:00:00+14:00", "occurred_at") == datetime(2026, 3, 1, 11, tzinfo=UTC)
    assert iso_datetime("2026-03-01T20:00:00-10:00", "occurred_at").date().isoformat() == "2026-03-02"
    assert iso_datetime("2026-03-01T20:00:00", "occurred_at").tzinfo is UTC


@pytest.mark.parametrize("parse, value", [(iso_date, "1999-12-31"),
                                          (iso_datetime, "0001-01-01T00:00:00"),
                                          (iso_datetime, "0001-01-01T00:00:00+05:00"),
                                          (iso_datetime, "9999-12-31T23:59:59-05:00")])
def test_refuses_dates_outside_the_years_deals_happen_in(parse, value) -> None:
    with pytest.raises(InvalidInput) as refusal:
        parse(value, "when")
    assert refusal.value.field == "when" and "2000-01-01" in refusal.value.detail


@pytest.mark.parametrize("value", ["1e3", "-1", "+1", " 1 2", "1.", ".5", "NaN", "١٢٣", 1.5, True])
def test_refuses_anything_but_a_plain_decimal(value) -> None:
    with pytest.raises(InvalidInput) as refusal:
        plain_decimal(value, "hours", places=2)
    assert refusal.value.field == "hours"


@pytest.mark.parametrize("value", ["a\x00b", "\ud800"])
def test_refuses_text_that_cannot_be_stored(value) -> None:
    with pytest.raises(InvalidInput):
        text(value, "summary")


def test_accepts_ordinary_attributes_and_names_the_path_of_a_bad_one() -> None:
    assert attributes({"segment": "banking", "sites": [1, 2.5, None, True]}) == {
        "segment": "banking", "sites": [1, 2.5, None, True]}
    with pytest.raises(InvalidInput) as refusal:
        attributes({"sites": [{"_type_": "x"}]})
    assert refusal.value.field == "attributes.sites.0"


@pytest.mark.parametrize("value", ["20260101", "2026-W01-1", 20260101, "2026-01-01T00:00:00", " 2026-01-01"])
def test_a_date_is_spelled_year_month_day_and_nothing_else(value) -> None:
    with pytest.raises(InvalidInput) as refusal:
        iso_date(value, "due")
    assert refusal.value.field == "due"
    assert iso_date("2026-01-01", "due").isoformat() == "2026-01-01"


# -- text safe to store and show -----------------------------------------------------------------

@pytest.mark.parametrize("value", [
    "Two visits:\n- kickoff\r\n- demo\twith the CIO",
    "与客户CIO讨论了方案设计",
    "\u200fتمت مراجعة العقد مع العميل\u200e (v2)",
    "Demo went well 🎉👩🏽\u200d💻 🇨🇳",
    "Cafe\u0301 café ＡＢＣ",
])
def test_accepts_text_with_line_breaks_any_script_emoji_and_direction_marks(value: str) -> None:
    assert text(value, "summary") == value.strip()
    assert attributes({"note": value, value: 1}) == {"note": value, value: 1}


@pytest.mark.parametrize("character", ["\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f",
                                       "\x80", "\x85", "\x9b", "\x9f"])
def test_refuses_text_with_a_control_character_naming_the_character_and_where_it_is(
        character: str) -> None:
    with pytest.raises(InvalidInput) as refusal:
        text(f"ring the {character}bell", "summary")
    assert refusal.value.field == "summary"
    assert refusal.value.detail == f"must not contain control characters (U+{ord(character):04X} at 9)"


@pytest.mark.parametrize("character", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
                                       "\u2066", "\u2067", "\u2068", "\u2069"])
def test_refuses_text_with_a_bidi_embedding_override_or_isolate(character: str) -> None:
    with pytest.raises(InvalidInput) as refusal:
        text(f"inv{character}fdp.exe", "summary")
    assert refusal.value.field == "summary"
    assert refusal.value.detail == f"must not contain bidi override characters (U+{ord(character):04X} at 3)"


@pytest.mark.parametrize("value, path", [
    ({"note": "a\x1b[31mb"}, "attributes.note"),
    ({"sites": ["ok", "x\u202ey"]}, "attributes.sites.1"),
    ({"no\x07te": 1}, "attributes"),
])
def test_refuses_attributes_with_unsafe_characters_naming_the_path(value: dict, path: str) -> None:
    with pytest.raises(InvalidInput) as refusal:
        attributes(value)
    assert refusal.value.field == path


@pytest.mark.parametrize("character", ["\t", "\n", "\r", "\u2028", "\u2029"])
def test_a_single_line_value_refuses_tabs_and_line_breaks_inside_but_trims_them_around(
        character: str) -> None:
    with pytest.raises(InvalidInput) as refusal:
        text(f"Acme{character}Corp", "name", single_line=True)
    assert (refusal.value.field, refusal.value.detail) == (
        "name", f"must not contain tabs or line breaks (U+{ord(character):04X} at 4)")
    assert text(f"Acme Corp{character}", "name", single_line=True) == "Acme Corp"
    assert text(f"Acme{character}Corp", "summary") == f"Acme{character}Corp"


# -- evidence links ------------------------------------------------------------------------------

@pytest.mark.parametrize("value, link", [
    ("https://crm.example/notes/1", "https://crm.example/notes/1"),
    ("http://wiki.intra:8080/poc?id=7#results", "http://wiki.intra:8080/poc?id=7#results"),
    ("HTTPS://CRM.example/A", "HTTPS://CRM.example/A"),
    ("  https://crm.example/x  ", "https://crm.example/x"),
    ("https://[2001:db8::1]/e", "https://[2001:db8::1]/e"),
    ("https://例子.测试/文档", "https://例子.测试/文档"),
    (None, None), ("", None), ("   ", None),
])
def test_an_evidence_link_is_an_absolute_web_link_or_nothing(value, link) -> None:
    assert evidence_url(value) == link


@pytest.mark.parametrize("value", [
    "javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<script>1</script>",
    "file:///etc/passwd", "ftp://files.example/e", "mailto:ana@example.com",
    "/v1/opportunities", "notes/1", "//evil.example/x", "crm.example/notes/1",
    "https://ana:secret@crm.example/1", "https://ana@crm.example/1", "https://crm.example\\@evil.example",
    "https:///notes/1", "https://:443/", "http:\\\\evil.example",
    "https://crm.example/a b", "https://crm.example/a\tb", "https://crm.example/a\u00a0b",
    "https://crm.example:99999/", "https://crm.example:port/", "https://[::1/",
    "https://crm.example/\x07", "https://crm.example/\u202eexe.txt",
    "https://crm.example/" + "x" * 1981, 42, ["https://crm.example/1"],
])
def test_refuses_an_evidence_link_that_is_not_a_plain_web_link(value) -> None:
    with pytest.raises(InvalidInput) as refusal:
        evidence_url(value)
    assert refusal.value.field == "evidence_url"


def test_an_evidence_link_may_be_2000_characters_long() -> None:
    link = "https://crm.example/" + "x" * 1980
    assert len(link) == 2000 and evidence_url(link) == link


def test_a_backoff_doubles_up_to_its_ceiling_and_starts_over_after_a_success() -> None:
    backoff = Backoff(0.5, 3.0)
    assert [backoff.pause() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.pause() == 0.5
    jittered = Backoff(0.5, 3.0, jitter=True)
    assert all(0 <= jittered.pause() <= most for most in (0.5, 1.0, 2.0, 3.0, 3.0))
