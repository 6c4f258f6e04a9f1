"""Chat interpreters: turn a user's message plus the slider state into an edit Plan.

``RuleInterpreter`` works offline and is the default; ``OpenAIInterpreter`` asks any
OpenAI-compatible server and falls back to the rules; ``ScriptedInterpreter`` replays plans for
tests and demos. Each is built from the model's EditContract; ``make_interpreter(kind, contract)``
is the one factory the CLI and the panel use. Nothing heavy (openai, torch, the embedding model) is imported until used.
"""

from chatface_widgets.chat.base import Interpreter
from chatface_widgets.chat.embedding import EmbeddingMatcher
from chatface_widgets.chat.factory import make_interpreter
from chatface_widgets.chat.llm import OpenAIInterpreter
from chatface_widgets.chat.plan import Plan
from chatface_widgets.chat.rules import RuleInterpreter
from chatface_widgets.chat.scripted import ScriptedInterpreter

__all__ = ["Interpreter", "Plan", "RuleInterpreter", "OpenAIInterpreter", "ScriptedInterpreter",
           "EmbeddingMatcher", "make_interpreter"]
