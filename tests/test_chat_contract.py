"""The chat layer built from the edit contract: factory, strengths, steps, numbers, layering."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from chatface_widgets.chat import (OpenAIInterpreter, Plan, RuleInterpreter, ScriptedInterpreter,
                                   make_interpreter)
from chatface_widgets.foundation.contract import EditContract, StepPolicy

TOY = ("smile", "eyeglasses", "red lipstick", "curly hair", "gray hair", "beard", "blue eyes",
       "pale skin")


@pytest.fixture
def contract():
    """The built-in model's shape: glasses recommend 1.0, 10 default steps, panel bound 100."""
    return EditContract(TOY, {"smile": ("grin",)}, {"eyeglasses": 1.0}, StepPolicy(default=10, maximum=100))


def test_factory_kinds(contract):
    rules = make_interpreter(None, contract)
    assert isinstance(rules, RuleInterpreter) and rules.contract is contract
    assert isinstance(make_interpreter("rules", contract), RuleInterpreter)
    llm = make_interpreter("openai", contract, api_key=None)
    assert isinstance(llm, OpenAIInterpreter) and llm.fallback.contract is contract
    scripted = make_interpreter("scripted", contract, plans=[{"edits": {"smile": 0.5}}])
    assert isinstance(scripted, ScriptedInterpreter) and scripted.parse("x").edits == {"smile": 0.5}
    assert make_interpreter(rules, contract) is rules
    with pytest.raises(ValueError, match="rules, openai, scripted"):
        make_interpreter("gpt", contract)
    with pytest.raises(ValueError, match="EditContract"):
        make_interpreter("rules", None)


def test_cli_and_panel_read_alike(contract):
    a, b = make_interpreter("rules", contract), make_interpreter(None, contract)
    for text in ("add glasses", "a big grin", "sharper please", "smile 2", "remove the beard"):
        assert a.parse(text) == b.parse(text)


def test_old_keywords_still_work():
    old = RuleInterpreter(attributes=["smile", "Eyeglasses"], synonyms={"smile": ["beam"]})
    assert old.parse("beam please").edits == {"smile": 0.5}
    assert old.parse("glasses").edits == {"Eyeglasses": 0.5}
    assert OpenAIInterpreter(attributes=["smile"]).attributes == ["smile"]
    assert ScriptedInterpreter([], attributes=["smile"]).attributes == ["smile"]


def test_recommended_strength_and_scaled_adverbs(contract):
    rules = RuleInterpreter(contract)
    assert rules.parse("add glasses").edits == {"eyeglasses": 1.0}
    assert rules.parse("add a bit of glasses").edits == {"eyeglasses": 0.5}
    assert rules.parse("add slightly tinted glasses").edits == {"eyeglasses": 0.5}
    assert rules.parse("add a smile").edits == {"smile": 0.5}  # no card value: the default


def test_step_levels_come_from_the_policy(contract):
    rules = RuleInterpreter(contract)
    assert rules.step_levels == (10, 25, 50)
    assert rules.parse("sharper").steps == 25
    assert rules.parse("fast preview", steps=50).steps == 10
    assert rules.parse("best quality").steps == 50
    plan = rules.parse("use 500 steps")
    assert plan.steps == 100 and "not a valid count" in plan.reply
    plan = rules.parse("use 0 steps")
    assert plan.steps is None and plan.edits == {} and "at least 2" in plan.reply
    assert RuleInterpreter(["smile"]).parse("sharper").steps == 20  # default policy: 8 steps


def test_plan_uses_the_contract_limits():
    with pytest.raises(ValidationError, match=r"\[-1, 1\]"):
        Plan(edits={"smile": 1.01})
    with pytest.raises(ValidationError, match="at least 2"):
        Plan(steps=0)
    assert Plan(steps=10).steps == 10


# --- numbers in chat (issue 17, item 18) ------------------------------------------------------------

@pytest.mark.parametrize("text, current, value, clamped", [
    ("smile 1/2", {}, 0.5, False),
    ("smile ½", {}, 0.5, False),
    ("smile 3/4", {}, 0.75, False),
    ("make her smile 2x", {}, 1.0, False),  # twice the recommended 0.5
    ("make her smile 2x", {"smile": 0.3}, 0.6, False),  # twice the current value
    ("smile x2", {"smile": 0.3}, 0.6, False),
    ("smile 2", {}, 1.0, True),  # a plain number is a strength; 2 is out of range
    ("smile 1.5", {}, 1.0, True),
    ("smile -3", {}, -1.0, True),
    ("smile 1,000%", {}, 1.0, True),  # 1000% is 10, clamped
    ("smile 70%", {}, 0.7, False),
    ("smile 70 percent", {}, 0.7, False),
    ("smile 0.7", {}, 0.7, False),
    ("smile -0.3", {}, -0.3, False),
])
def test_numbers_are_read_one_way(text, current, value, clamped):
    plan = RuleInterpreter(list(TOY)).parse(text, current)
    assert plan.edits == {"smile": value}
    assert ("strengths run from -1 to 1" in plan.reply) == clamped


def test_more_at_the_top_says_so():
    plan = RuleInterpreter(list(TOY)).parse("more smile", {"smile": 1e9})
    assert plan.edits == {"smile": 1.0}
    assert "already at 1.0 (the maximum)" in plan.reply and "Less" not in plan.reply


# --- layering: chat imports no torch and nothing above it --------------------------------------------

ALLOWED = ("chatface_widgets.chat", "chatface_widgets.foundation.contract", "chatface_widgets.foundation.steps",
           "chatface_widgets.foundation.where")  # where: part names (issue 30), pure Python


def test_chat_imports_only_the_contract_below_it():
    root = Path(__file__).resolve().parents[1] / "chatface_widgets" / "chat"
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else [f"chatface_widgets.chat.{node.module}"]
            for name in names:
                assert name.split(".")[0] != "torch", f"{path.name} imports {name}"
                if name.startswith("chatface_widgets"):
                    assert name.startswith(ALLOWED), f"{path.name} imports {name}"


def test_chat_imports_no_torch_at_run_time():
    code = ("import sys; from chatface_widgets.chat import make_interpreter; "
            "from chatface_widgets.foundation.contract import EditContract; "
            "make_interpreter('openai', EditContract(('smile',))).parse('add a smile'); "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"OPENAI_API_KEY": "", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stdout + out.stderr
