"""A bare "just"/"only" before something the model edits asks for that thing; it limits the edit only before a part."""

from __future__ import annotations

import pytest

from chatface_widgets.chat import RuleInterpreter
from chatface_widgets.models.latent_classifier import CHAT_NAMES
from chatface_widgets.toy import ATTRIBUTES


@pytest.mark.parametrize("names,text,edited,only", [
    (list(CHAT_NAMES), "Just the mustache, no beard", {"mustache", "beard"}, []),
    (list(ATTRIBUTES), "gray hair, only the hair", {"gray hair"}, ["hair"]),
])
def test_just_and_only(names, text, edited, only):
    plan = RuleInterpreter(names).parse(text, current={})
    assert set(plan.edits) == edited and list(plan.only) == only, (plan.edits, plan.only, plan.reply)
