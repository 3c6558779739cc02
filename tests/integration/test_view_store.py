"""The ViewStore contract (projections/store.py), on the embedded store and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from projections.store import Checkpoint, ViewStore
from storage.database import Database


def commit(store: ViewStore, moves: dict[str, tuple[int, int]], changes: dict | None = None,
           generation: int = 0) -> bool:
    """Move projections from old to new positions (in `generation`), as a runner does."""
    store.checkpoints(moves)  # a runner always looks before it commits
    return store.commit({name: (Checkpoint(old, generation), new)
                         for name, (old, new) in moves.items()}, changes or {})


@pytest.fixture
def store(database_url: str) -> Iterator[ViewStore]:
    db = Database(database_url)
    yield ViewStore(db)
    db.close()


@pytest.fixture
def memory_store() -> Iterator[ViewStore]:
    db = Database("memory://")
    yield ViewStore(db)
    db.close()


def test_positions_start_at_zero(store: ViewStore) -> None:
    assert store.position("board") == 0
    assert store.get("board", "o1") is None
    assert store.all("board") == {}


def test_a_commit_writes_documents_and_moves_the_position(store: ViewStore) -> None:
    doc = {"opportunity_id": "o1", "amount": 100_000_000, "supporters": ["dave"],
           "name": "銀行核心系统", "nested": {"ok": True, "none": None}}
    assert commit(store, {"board": (0, 3)}, {("board", "o1"): doc}) is True
    assert store.get("board", "o1") == doc
    assert store.position("board") == 3


def test_a_later_commit_replaces_a_document(store: ViewStore) -> None:
    commit(store, {"board": (0, 3)}, {("board", "o1"): {"stage": "open"}})
    assert commit(store, {"board": (3, 7)}, {("board", "o1"): {"stage": "won"}}) is True
    assert store.get("board", "o1") == {"stage": "won"}
    assert store.position("board") == 7


def test_all_answers_every_document_of_one_view_by_key(store: ViewStore) -> None:
    commit(store, {"board": (0, 2)}, {("board", "o2"): {"n": 2}, ("board", "o1"): {"n": 1},
                                     ("allocation", "a1"): {"n": 3}})
    assert store.all("board") == {"o1": {"n": 1}, "o2": {"n": 2}}
    assert list(store.all("board")) == ["o1", "o2"]
    assert store.all("allocation") == {"a1": {"n": 3}}


def test_a_commit_from_a_stale_position_writes_nothing(store: ViewStore) -> None:
    commit(store, {"board": (0, 5)}, {("board", "o1"): {"v": 1}})
    assert commit(store, {"board": (3, 9)}, {("board", "o1"): {"v": 2},
                                            ("board", "o2"): {"v": 2}}) is False
    assert store.position("board") == 5
    assert store.all("board") == {"o1": {"v": 1}}


def test_a_first_commit_loses_to_another_first_commit(store: ViewStore) -> None:
    assert commit(store, {"board": (0, 4)}, {("board", "o1"): {"by": "first"}}) is True
    assert commit(store, {"board": (0, 6)}, {("board", "o1"): {"by": "second"}}) is False
    assert store.get("board", "o1") == {"by": "first"}
    assert store.position("board") == 4


def test_one_stale_projection_makes_the_whole_commit_write_nothing(store: ViewStore) -> None:
    commit(store, {"board": (0, 5), "allocation": (0, 5)}, {})
    stale = commit(store, {"board": (5, 8), "allocation": (2, 8)},
                         {("board", "o1"): {"v": 1}, ("allocation", "a1"): {"v": 1}})
    assert stale is False
    assert (store.position("board"), store.position("allocation")) == (5, 5)
    assert store.all("board") == store.all("allocation") == {}


def test_a_commit_that_fails_midway_writes_nothing(store: ViewStore) -> None:
    commit(store, {"board": (0, 5)}, {("board", "o1"): {"v": 1}})
    with pytest.raises(TypeError):
        commit(store, {"board": (5, 8)}, {("board", "o1"): {"v": 2},
                                         ("board", "o2"): {"not json": {1, 2}}})
    assert store.position("board") == 5
    assert store.all("board") == {"o1": {"v": 1}}
    assert commit(store, {"board": (5, 8)}, {("board", "o2"): {"v": 2}}) is True


def test_positions_are_kept_per_projection(store: ViewStore) -> None:
    commit(store, {"board": (0, 5)}, {})
    commit(store, {"allocation": (0, 2)}, {})
    assert (store.position("board"), store.position("allocation")) == (5, 2)


def test_reset_forgets_the_projections_documents_and_position(store: ViewStore) -> None:
    commit(store, {"allocation": (0, 9)}, {("allocation", "a1"): {"v": 1},
                                          ("contribution_position", "e1"): {"position": 4}})
    commit(store, {"board": (0, 9)}, {("board", "o1"): {"v": 1}})
    store.reset("allocation", ["allocation", "contribution_position"])
    assert store.position("allocation") == 0
    assert store.all("allocation") == store.all("contribution_position") == {}
    assert store.position("board") == 9
    assert store.get("board", "o1") == {"v": 1}
    assert commit(store, {"allocation": (0, 3)}, {("allocation", "a2"): {"v": 2}},
                  generation=1) is True
    assert store.all("allocation") == {"a2": {"v": 2}}


def test_a_runner_that_read_before_a_reset_cannot_commit_after_it(store: ViewStore) -> None:
    commit(store, {"board": (0, 4)}, {("board", "o1"): {"v": "before"}})
    stale = store.checkpoints(["board"])["board"]  # a runner reads, then a rebuild starts
    store.reset("board", ["board"])
    rebuilt = store.checkpoints(["board"])["board"]
    assert rebuilt == Checkpoint(0, stale.generation + 1)
    assert store.commit({"board": (rebuilt, 4)}, {("board", "o1"): {"v": "rebuilt"}}) is True

    assert store.commit({"board": (stale, 9)}, {("board", "o1"): {"v": "stale"}}) is False
    assert store.get("board", "o1") == {"v": "rebuilt"} and store.position("board") == 4


def test_a_second_store_on_the_same_database_sees_the_same_views(database_url: str,
                                                                 store: ViewStore) -> None:
    commit(store, {"board": (0, 5)}, {("board", "o1"): {"v": 1}})
    other_db = Database(database_url)
    try:
        other = ViewStore(other_db)
        assert other.position("board") == 5
        assert other.get("board", "o1") == {"v": 1}
        assert commit(other, {"board": (0, 6)}, {("board", "o1"): {"v": 2}}) is False
        assert commit(other, {"board": (5, 6)}, {("board", "o1"): {"v": 2}}) is True
        assert store.get("board", "o1") == {"v": 2}
    finally:
        other_db.close()


def test_the_in_memory_store_keeps_the_same_contract(memory_store: ViewStore) -> None:
    assert memory_store.position("board") == 0
    assert commit(memory_store, {"board": (0, 2)}, {("board", "o1"): {"v": 1}}) is True
    assert commit(memory_store, {"board": (0, 3)}, {("board", "o1"): {"v": 2}}) is False
    assert memory_store.get("board", "o1") == {"v": 1}
    memory_store.reset("board", ["board"])
    assert (memory_store.position("board"), memory_store.all("board")) == (0, {})


def test_a_commit_notes_for_each_view_it_wrote_the_position_it_moved_to(store: ViewStore) -> None:
    commit(store, {"board": (0, 3)}, {("board", "o1"): {"n": 1}})
    commit(store, {"board": (3, 5), "allocation": (0, 5)}, {("allocation", "a1"): {"n": 2}})
    commit(store, {"board": (5, 9)})  # read events, wrote nothing: no view changed

    assert store.changes_after(0) == {"board": 3, "allocation": 5}
    assert store.changes_after(3) == {"allocation": 5}
    assert store.changes_after(5) == {}


def test_a_reset_forgets_when_its_views_changed(store: ViewStore) -> None:
    commit(store, {"board": (0, 3)}, {("board", "o1"): {"n": 1}})
    store.reset("board", ["board"])
    assert store.changes_after(0) == {}


def test_an_overtaken_commit_notes_no_change(store: ViewStore) -> None:
    commit(store, {"board": (0, 3)}, {("board", "o1"): {"n": 1}})
    assert commit(store, {"board": (0, 8)}, {("board", "o1"): {"n": 2}}) is False
    assert store.changes_after(3) == {}
