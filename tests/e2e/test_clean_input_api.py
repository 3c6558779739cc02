"""Clean input through the HTTP API: evidence links are plain web links, text carries no control or
bidi override characters, incentive policy numbers stay within sane bounds. Each refusal is a 422
problem naming the field and records nothing; ordinary text in any script is kept as written.
"""

from __future__ import annotations

import pytest

from tests.e2e import test_api
from tests.e2e.test_api import Story, assert_problem, day, log_position
from tests.e2e.test_api_input import post_contribution, post_policy

story = test_api.story  # the fixture: a grade-A deal with ana AR, sam SR, fay FR


def refused_with_nothing_recorded(s: Story, response_of, field: str) -> None:
    before, board_before = log_position(s.client), s.board()
    assert_problem(response_of(), 422, field=field)
    assert log_position(s.client) == before
    assert s.board() == board_before


@pytest.mark.parametrize("link", ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>",
                                  "file:///etc/passwd", "/v1/members", "https://ana:pw@crm.example/1"])
def test_refuses_a_contribution_whose_evidence_is_not_a_plain_web_link(story: Story, link: str) -> None:
    refused_with_nothing_recorded(story, lambda: post_contribution(story, evidence_url=link), "evidence_url")


@pytest.mark.parametrize("summary", ["invoice\u202eexe.pdf", "ok\x1b[2J", "ring\x07"])
def test_refuses_a_summary_with_a_bidi_override_or_control_character(story: Story, summary: str) -> None:
    refused_with_nothing_recorded(story, lambda: post_contribution(story, summary=summary), "summary")


def test_refuses_an_incentive_policy_weighting_a_kind_over_1000_points(story: Story) -> None:
    weights = {"visit": 1, "demo": 1001}
    refused_with_nothing_recorded(story, lambda: post_policy(story, kind_weights=weights),
                                  "kind_weights.demo")


def test_refuses_delivering_a_request_with_a_script_link(story: Story) -> None:
    request = story.post(f"{story.path}/requests", "ana", {
        "to_member": "sam", "kind": "solution_design", "summary": "Target architecture",
        "due": day(7)}, 201)
    story.post(f"/v1/requests/{request['id']}/accept", "sam")
    deliver = f"/v1/requests/{request['id']}/deliver"
    refused_with_nothing_recorded(story, lambda: story.request(
        "POST", deliver, "sam", {"summary": "done", "evidence_url": "javascript:alert(1)"}), "evidence_url")
    story.post(deliver, "sam", {"summary": "done", "evidence_url": "https://wiki.example/arch"})


def test_keeps_a_summary_in_any_script_with_line_breaks_emoji_and_direction_marks(story: Story) -> None:
    summary = "客户CIO确认方案\n\u200fتمت مراجعة العقد\u200e\tv2 🎉👩🏽\u200d💻"
    recorded = story.post(f"{story.path}/contributions", "sam", story.contribution(
        "sam", summary=summary, evidence_url="HTTPS://crm.example/notes/7?tab=2#top"), 201)
    [shown] = [c for c in story.board()["contributions"] if c["id"] == recorded["id"]]
    assert (shown["summary"], shown["evidence_url"]) == (summary, "HTTPS://crm.example/notes/7?tab=2#top")


@pytest.mark.parametrize("name", ["Acme\nPay the bearer", "Acme\u2028core"])
def test_refuses_a_name_that_spans_lines(story: Story, name: str) -> None:
    before = log_position(story.client)
    opened = story.request("POST", "/v1/opportunities", "ana", {
        "account_id": "acme", "name": name, "amount": "10.00", "currency": "CNY",
        "expected_close": day(30)})
    assert_problem(opened, 422, field="name")
    assert log_position(story.client) == before
