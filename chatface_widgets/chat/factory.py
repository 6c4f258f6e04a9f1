"""One interpreter factory for the CLI and the panel: the same contract, the same reading.

    interp = make_interpreter("rules", engine.contract)      # offline (default; also None)
    interp = make_interpreter("openai", engine.contract)     # LLM, checked by the rules, rules as fallback
    interp = make_interpreter("scripted", contract, plans=[...])
    interp = make_interpreter(my_interpreter, contract)      # any object with parse(): passed through
"""

from __future__ import annotations

from typing import Any

from chatface_widgets.foundation.contract import EditContract

KINDS = ("rules", "openai", "scripted")


def make_interpreter(kind: Any = None, contract: EditContract | None = None, **options: Any):
    """An interpreter of ``kind`` built from ``contract``.

    ``kind``: None or "rules" → RuleInterpreter; "openai" → OpenAIInterpreter whose fallback and
    checker is a RuleInterpreter of the same contract; "scripted" → ScriptedInterpreter (``plans=``
    in ``options``, default none); any object with a ``parse`` method is returned unchanged.
    ``options`` go to the constructor (e.g. ``embedding=True`` for the rules, ``model=``,
    ``base_url=`` for the LLM). ValueError names the kinds for anything else.
    """
    if kind is not None and not isinstance(kind, str):
        if callable(getattr(kind, "parse", None)):
            return kind
        raise ValueError(f"an interpreter needs a parse(text, current, steps) method; got {kind!r}")
    name = (kind or "rules").strip().lower()
    if name not in KINDS:
        raise ValueError(f"unknown interpreter {kind!r}; use one of: {', '.join(KINDS)}")
    if contract is None:
        raise ValueError("make_interpreter needs the model's EditContract (engine.contract)")
    if not isinstance(contract, EditContract):
        raise TypeError(f"contract must be an EditContract, got {type(contract).__name__}")
    if name == "rules":
        from chatface_widgets.chat.rules import RuleInterpreter

        return RuleInterpreter(contract, **options)
    if name == "openai":
        from chatface_widgets.chat.llm import OpenAIInterpreter
        from chatface_widgets.chat.rules import RuleInterpreter

        embedding = options.pop("embedding", None)
        options.setdefault("fallback", RuleInterpreter(contract, embedding=embedding))
        return OpenAIInterpreter(contract, **options)
    from chatface_widgets.chat.scripted import ScriptedInterpreter

    plans = options.pop("plans", ())
    return ScriptedInterpreter(plans, contract, **options)
