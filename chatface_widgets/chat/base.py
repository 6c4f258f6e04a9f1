"""The interpreter protocol: chat text plus the current slider state in, a Plan out."""

from __future__ import annotations

from typing import Mapping, Protocol, runtime_checkable

from chatface_widgets.chat.plan import Plan


@runtime_checkable
class Interpreter(Protocol):
    """Anything with ``attributes`` and ``parse(text, current, steps) -> Plan``."""

    attributes: list[str]

    def parse(self, text: str, current: Mapping[str, float] | None = None,
              steps: int | None = None) -> Plan:
        """Turn one chat message into a plan, given the current strengths and step count."""
        ...
