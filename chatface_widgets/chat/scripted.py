"""ScriptedInterpreter: replays fixed plans (or calls a function) for tests and demos."""

from __future__ import annotations

from typing import Callable, Mapping, Sequence, Union

from chatface_widgets.chat.base import contract_and_names
from chatface_widgets.chat.plan import Plan
from chatface_widgets.foundation.contract import EditContract

PlanLike = Union[Plan, Mapping, str]


def _to_plan(item: PlanLike) -> Plan:
    """A Plan from a Plan, a dict of Plan fields, or a bare reply string (no edits)."""
    if isinstance(item, Plan):
        return item
    if isinstance(item, str):
        return Plan.none(item, understood=True)
    return Plan.model_validate(dict(item))


class ScriptedInterpreter:
    """Returns the scripted plans in order (or ``fn(text, current, steps)``), recording each call."""

    def __init__(self, plans: Sequence[PlanLike] | Callable[..., PlanLike],
                 contract: "EditContract | Sequence[str] | None" = None, cycle: bool = False,
                 *, attributes: Sequence[str] | None = None):
        self.contract, self.attributes = contract_and_names(contract, None, attributes)
        self._fn = plans if callable(plans) else None
        self._plans = [] if self._fn else [_to_plan(p) for p in plans]
        self.cycle = cycle
        self.calls: list[tuple[str, dict[str, float], int | None]] = []
        if not self._fn:
            for plan in self._plans:
                self._check(plan)

    def __repr__(self) -> str:
        what = "callable" if self._fn else f"{len(self._plans)} plans"
        return f"ScriptedInterpreter({what}, attributes={self.attributes!r})"

    def _check(self, plan: Plan) -> Plan:
        """Refuse a plan that names an attribute outside ``attributes`` (when that list is given)
        or a step count the contract's StepPolicy refuses."""
        unknown = [a for a in plan.edits if self.attributes and a not in self.attributes]
        if unknown:
            raise ValueError(f"scripted plan edits unknown attributes {unknown}")
        if plan.steps is not None and self.attributes:
            self.contract.steps.check(plan.steps)
        return plan

    def parse(self, text: str, current: Mapping[str, float] | None = None,
              steps: int | None = None) -> Plan:
        """The next scripted plan (or the function's), or a no-edit plan once the script ends."""
        self.calls.append((text, dict(current or {}), steps))
        if self._fn:
            return self._check(_to_plan(self._fn(text, dict(current or {}), steps)))
        index = len(self.calls) - 1
        if self.cycle and self._plans:
            index %= len(self._plans)
        if index < len(self._plans):
            return self._plans[index]
        return Plan.none("(the script has no more replies)")
