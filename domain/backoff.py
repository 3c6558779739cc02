"""One backoff for every retry loop: pauses that double from a first one up to a ceiling."""

from __future__ import annotations

import random


class Backoff:
    """The pauses between tries; `jitter` draws each one at random up to its size (writers racing
    for one aggregate then do not retry in step)."""

    def __init__(self, first: float, most: float, *, jitter: bool = False) -> None:
        self.first, self.most, self.jitter = first, most, jitter
        self.size = first

    def pause(self) -> float:
        """The next pause, in seconds; the one after is twice as long, up to `most`."""
        size, self.size = self.size, min(self.size * 2, self.most)
        return random.uniform(0, size) if self.jitter else size

    def reset(self) -> None:
        """The loop succeeded: the next failure starts from the first pause again."""
        self.size = self.first
