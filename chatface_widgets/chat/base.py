"""The interpreter protocol, and how every interpreter gets its edit contract.

An interpreter is built from an :class:`~chatface_widgets.foundation.contract.EditContract` (names, synonyms,
recommended strengths, step policy). Old callers that pass a list of attribute names (and a
``synonyms`` mapping) still work: :func:`contract_and_names` builds the contract for them and keeps
their spelling of the names for the plans it returns.
"""

from __future__ import annotations

from typing import Mapping, Protocol, Sequence, runtime_checkable

from chatface_widgets.foundation.contract import EditContract
from chatface_widgets.chat.plan import Plan


@runtime_checkable
class Interpreter(Protocol):
    """Anything with ``attributes`` and ``parse(text, current, steps) -> Plan``."""

    attributes: list[str]

    def parse(self, text: str, current: Mapping[str, float] | None = None,
              steps: int | None = None) -> Plan:
        """Turn one chat message into a plan, given the current strengths and step count."""
        ...


def contract_and_names(contract: "EditContract | Sequence[str] | None" = None,
                       synonyms: Mapping[str, Sequence[str]] | None = None,
                       attributes: Sequence[str] | None = None) -> tuple[EditContract, list[str]]:
    """(contract, attribute names as the plans spell them) from a contract or an old name list.

    A contract gives its own canonical names. A list of names (positional or ``attributes=``)
    builds a contract with ``synonyms`` and keeps the caller's spelling ("No_Beard", "Smiling").
    ``synonyms`` given with a contract are added to the contract's own.
    """
    if contract is not None and attributes is not None:
        raise TypeError("give either a contract or attributes=, not both")
    if isinstance(contract, EditContract):
        if synonyms:
            merged = {k: tuple(v) for k, v in contract.synonyms.items()}
            for name, words in synonyms.items():
                key = contract.resolve(name, strict=False) or name
                merged[key] = tuple(merged.get(key, ())) + tuple(words)
            contract = EditContract(contract.attributes, merged, contract.recommended, contract.steps)
        return contract, list(contract.attributes)
    names = list(dict.fromkeys(str(a) for a in (attributes if attributes is not None else contract or ())))
    return EditContract(tuple(names), dict(synonyms or {})), names
