"""The audit chain: every stored event, in log order, folded into one sha256 chain (docs/audit.md
gives the recipe, which needs none of this code). The projection keeps one small document per
event, keyed by the zero-padded position so that key order is log order, and the head; `verify`
recomputes the chain from the stored events and compares it with every recorded value.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from projections.base import Changes, Projection
from projections.store import ViewStore

GENESIS = bytes(32)
VIEW = "audit_chain"  # zero-padded position -> {position, digest, chain}
HEAD = "audit_chain_head"
HEAD_KEY = "head"
BATCH = 1000
MOST_PAIRS_COMPARED = 250_000  # looking for reordered rows costs suspects × unmatched hashes


def canonical_bytes(position: int, originator_id: UUID | str, originator_version: int, topic: str,
                    state: bytes) -> bytes:
    """The bytes of one stored event that its digest covers (pass a uuid id as a UUID or in its
    hyphenated form)."""
    return f"{position}\n{originator_id}\n{originator_version}\n{topic}\n".encode() + bytes(state)


def event_digest(position: int, originator_id: UUID | str, originator_version: int, topic: str,
                 state: bytes) -> bytes:
    """sha256 of one stored event's canonical bytes."""
    return hashlib.sha256(canonical_bytes(position, originator_id, originator_version, topic,
                                          state)).digest()


def digest_of(notification: Notification) -> bytes:
    """The digest of a stored event as the recorder reads it (its id is its log position)."""
    return event_digest(notification.id, notification.originator_id, notification.originator_version,
                        notification.topic, notification.state)


def link(previous: bytes, digest: bytes) -> bytes:
    """The next chain value: sha256(previous ‖ digest)."""
    return hashlib.sha256(previous + digest).digest()


def chain_of(notifications: Iterable[Notification], previous: bytes = GENESIS) -> bytes:
    """The chain value after these notifications (in log order), starting from `previous`."""
    for notification in notifications:
        previous = link(previous, digest_of(notification))
    return previous


def key_of(position: int) -> str:
    return f"{position:020d}"


class AuditChainProjection(Projection):
    """Links each stored event into the chain and records its digest and chain value."""

    name = "audit_chain"
    views = (VIEW, HEAD)
    reads_stored_events = True  # process() gets the Notification (raw bytes), not the domain event

    def process(self, event: Any, position: int, changes: Changes) -> None:
        if not isinstance(event, Notification):
            raise TypeError("the audit chain hashes stored events: the runner must pass the "
                            "notification to a projection that reads_stored_events")
        head = changes.get(HEAD, HEAD_KEY) or {"position": 0, "chain": GENESIS.hex()}
        digest = digest_of(event)
        chain = link(bytes.fromhex(head["chain"]), digest).hex()
        changes.put(VIEW, key_of(position), {"position": position, "digest": digest.hex(),
                                             "chain": chain})
        changes.put(HEAD, HEAD_KEY, {"position": position, "chain": chain})


def recorded_head(store: ViewStore) -> dict:
    """The last recorded link: {position, chain} (position 0 and the genesis value before any)."""
    return store.get(HEAD, HEAD_KEY) or {"position": 0, "chain": GENESIS.hex()}


def recorded_chain(store: ViewStore, start: int = 1, limit: int = 100,
                   stop: int | None = None) -> list[dict]:
    """Recorded links {position, digest, chain} from position `start` on, at most `limit`, in log
    order (up to position `stop` if given)."""
    # ViewStore reads one key or a whole view; a range of one view is read here, in key order.
    stop_key = key_of(stop if stop is not None else 10**20 - 1)
    with store.db.transaction() as cur:
        cur.execute("SELECT doc FROM goldsplit_views WHERE view = ? AND key >= ? AND key <= ? "
                    "ORDER BY key LIMIT ?", (VIEW, key_of(max(start, 0)), stop_key, limit))
        rows = cur.fetchall()
    return [json.loads(row[0]) for row in rows]


def head_at(store: ViewStore, position: int) -> str | None:
    """The recorded chain value (hex) at log position `position`: the head over every event at or
    before it. None while the audit chain projection has not reached that position yet."""
    if position <= 0:
        return GENESIS.hex()
    if store.position(AuditChainProjection.name) < position:
        return None
    with store.db.transaction() as cur:
        cur.execute("SELECT doc FROM goldsplit_views WHERE view = ? AND key <= ? "
                    "ORDER BY key DESC LIMIT 1", (VIEW, key_of(position)))
        row = cur.fetchone()
    return json.loads(row[0])["chain"] if row else GENESIS.hex()


# -- verify ------------------------------------------------------------------------------------


def verify(app_or_recorder: Any, store: ViewStore, batch_size: int = BATCH) -> dict:
    """Recompute the chain from the stored events and compare it with every recorded value.

    Answers {ok, checked, head, recorded_head, log_position, problems}: `checked` stored events up to
    the recorded head were hashed; `head` is the chain recomputed from them, `recorded_head` what the
    projection recorded (equal when ok); events after the recorded head (not projected yet) are not
    checked. Each problem is {position, kind, detail}, sorted by position, one per position at which
    the store and the record disagree (so one edit is one problem, not every later link):
    - `edited`: the stored event at a position is not the one recorded there;
    - `deleted`: a position the chain recorded is missing from the store;
    - `inserted`: a stored event at a position the chain skipped (below the recorded head);
    - `reordered`: the stored event at a position is the one recorded at another position;
    - `chain_record`: a recorded chain value does not follow from the one before it and its
      recorded digest, or the recorded head was removed (the read model itself was changed);
    - `published_head`: the chain head a period close recorded (kept outside this read model)
      does not match the chain recomputed at its cut-off: the log was rewritten, chain and all.
    A gap in positions alone is no problem: PostgreSQL sequences skip numbers naturally.
    """
    recorder = getattr(app_or_recorder, "recorder", app_or_recorder)
    head = recorded_head(store)
    upto = int(head["position"])
    log_position = recorder.max_notification_id() or 0
    computed = previous_recorded = GENESIS
    checked = 0
    problems: list[dict] = []
    projected = store.position(AuditChainProjection.name)
    if projected > upto:  # the chain projection went further than the head it recorded
        problems.append(_problem(projected, "chain_record", f"the recorded head stops at {upto} but "
                                 f"the chain was projected up to {projected}: its record was removed"))
    published = _published_heads(app_or_recorder, upto, batch_size)
    suspects: dict[int, Notification] = {}  # stored events not recorded at their position
    unmatched: dict[int, bytes] = {}  # recorded digests not found at their position
    for position, stored, record in _merge(_stored(recorder, upto, batch_size),
                                           _recorded(store, upto, batch_size)):
        digest = recorded_digest = None
        if stored is not None:
            checked += 1
            digest = digest_of(stored)
            computed = link(computed, digest)
        if position in published and published[position] != computed.hex():
            problems.append(_problem(position, "published_head", "the chain head a period close "
                                     "recorded at this position does not match the stored events"))
        if record is not None:
            recorded_digest = bytes.fromhex(record["digest"])
            if link(previous_recorded, recorded_digest).hex() != record["chain"]:
                problems.append(_problem(position, "chain_record",
                                         "the recorded chain value does not follow from the one "
                                         "before it and the recorded digest"))
            previous_recorded = bytes.fromhex(record["chain"])
        if digest != recorded_digest:
            if stored is not None:
                suspects[position] = stored
            if recorded_digest is not None:
                unmatched[position] = recorded_digest
    problems += _located(suspects, unmatched, upto)
    problems.sort(key=lambda p: (p["position"], p["kind"]))
    return {"ok": not problems, "checked": checked,
            "head": {"position": upto, "chain": computed.hex()},
            "recorded_head": {"position": upto, "chain": head["chain"]},
            "log_position": log_position, "problems": problems}


def _published_heads(app: Any, upto: int, batch_size: int) -> dict[int, str]:
    """The chain heads kept outside this read model: each period close's report, by cut-off."""
    mapper = getattr(app, "mapper", None)
    if mapper is None:  # a bare recorder: nothing to decode the close records with
        return {}
    recorder = app.recorder
    topic = "domain.aggregates:Period.Closed"
    heads: dict[int, str] = {}
    position = 0
    while True:
        batch = recorder.select_notifications(position, batch_size, topics=[topic],
                                              inclusive_of_start=False)
        for notification in batch:
            closed = mapper.to_domain_event(notification)
            if closed.cutoff <= upto and closed.report.get("chain_head"):
                heads[closed.cutoff] = closed.report["chain_head"]
        if len(batch) < batch_size:
            return heads
        position = batch[-1].id


def _located(suspects: dict[int, Notification], unmatched: dict[int, bytes], upto: int) -> list[dict]:
    """Name each disagreement: a stored event recorded elsewhere is reordered, one recorded nowhere
    at its position is edited (something was recorded there) or inserted (nothing was)."""
    moved: dict[int, int] = {}  # stored position -> the position its event was recorded at
    if len(suspects) * len(unmatched) <= MOST_PAIRS_COMPARED:
        for position, stored in suspects.items():
            for elsewhere, recorded_digest in unmatched.items():
                if elsewhere != position and event_digest(
                        elsewhere, stored.originator_id, stored.originator_version, stored.topic,
                        stored.state) == recorded_digest:
                    moved[position] = elsewhere
                    break
    now_at = {was: position for position, was in moved.items()}
    problems = []
    for position, stored in suspects.items():
        if position in moved:
            problems.append(_problem(position, "reordered",
                                     f"holds the event recorded at position {moved[position]}"))
        elif position in unmatched:
            problems.append(_problem(position, "edited",
                                     f"the stored event's digest is {digest_of(stored).hex()}, the "
                                     f"chain recorded {unmatched[position].hex()}"))
        else:
            problems.append(_problem(position, "inserted",
                                     f"a stored event at a position the chain skipped (recorded up "
                                     f"to {upto})"))
    for position, recorded_digest in unmatched.items():
        if position in suspects:
            continue
        if position in now_at:
            problems.append(_problem(position, "reordered",
                                     f"the event recorded here is now at position {now_at[position]}"))
        else:
            problems.append(_problem(position, "deleted",
                                     f"the chain recorded an event here (digest "
                                     f"{recorded_digest.hex()}); the store has none"))
    return problems


def _problem(position: int, kind: str, detail: str) -> dict:
    return {"position": position, "kind": kind, "detail": detail}


def _stored(recorder: Any, upto: int, batch_size: int) -> Iterator[Notification]:
    start = 0
    while start < upto:
        batch = recorder.select_notifications(start=start, limit=batch_size, stop=upto,
                                              inclusive_of_start=False)
        if not batch:
            return
        yield from batch
        start = batch[-1].id


def _recorded(store: ViewStore, upto: int, batch_size: int) -> Iterator[dict]:
    start = 1
    while start <= upto:
        batch = recorded_chain(store, start, batch_size, stop=upto)
        if not batch:
            return
        yield from batch
        start = batch[-1]["position"] + 1


def _merge(stored: Iterator[Notification],
           recorded: Iterator[dict]) -> Iterator[tuple[int, Notification | None, dict | None]]:
    """Both sequences side by side by position: (position, stored or None, record or None)."""
    event, record = next(stored, None), next(recorded, None)
    while event is not None or record is not None:
        if record is None or (event is not None and event.id < record["position"]):
            yield event.id, event, None
            event = next(stored, None)
        elif event is None or record["position"] < event.id:
            yield record["position"], None, record
            record = next(recorded, None)
        else:
            yield event.id, event, record
            event, record = next(stored, None), next(recorded, None)
