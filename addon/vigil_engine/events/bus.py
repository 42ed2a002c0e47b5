"""In-process publish/subscribe of event changes (API clients, integrations).

Subscribers get bounded queues: a slow consumer loses its oldest messages and
is told so, it never slows the pipeline.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, Literal

# "escalate": an announced event got worse (level rose or alert raised); sent after "update".
Kind = Literal["new", "update", "end", "mode", "escalate"]


@dataclass(frozen=True, slots=True)
class EventMessage:
    kind: Kind
    event: dict[str, Any]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[EventMessage]] = set()
        self.published = 0

    def subscribe(self, maxsize: int = 256) -> asyncio.Queue[EventMessage]:
        q: asyncio.Queue[EventMessage] = asyncio.Queue(maxsize)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[EventMessage]) -> None:
        self._subscribers.discard(q)

    def publish(self, kind: Kind, event: dict[str, Any]) -> None:
        self.published += 1
        msg = EventMessage(kind, event)
        for q in self._subscribers:
            if q.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()
            q.put_nowait(msg)
