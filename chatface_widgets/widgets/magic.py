"""The ``%chatface [PHOTO] [--model NAME|PATH] [--llm rules|openai] [--steps N]`` line magic."""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring


@magics_class
class ChatFaceMagics(Magics):
    """Holds the ``%chatface`` magic."""

    @magic_arguments()
    @argument("photo", nargs="?", default=None, help="photo file (default: the model's built-in sample)")
    @argument("--model", default=None, help='"toy" (built-in, default), "tiny" (test model), "ffhq256", '
                                            '"ffhq128" or a checkpoint path')
    @argument("--llm", default="rules", choices=("rules", "openai"), help="chat interpreter (default: rules)")
    @argument("--steps", type=int, default=None, help="DDIM decode steps (default: the model's)")
    @argument("--face", type=int, default=None, help="which face of a photo with several (1: the largest)")
    @line_magic
    def chatface(self, line: str = ""):
        """Open a chat-guided face editing panel, display it and return it."""
        args = parse_argstring(self.chatface, line)
        panel = open_panel(unquote(args.photo), model=unquote(args.model), llm=args.llm, steps=args.steps,
                           face=args.face)
        from IPython.display import display

        display(panel)
        panel._skip_display = True  # the returned panel is echoed as the cell's result: skip that once
        self._clear_skip_after_cell(panel)
        return panel

    def _clear_skip_after_cell(self, panel) -> None:
        """After this cell, let ``panel`` display normally again (e.g. when named in a later cell)."""
        events = self.shell.events

        def clear(*_):
            panel._skip_display = False
            events.unregister("post_run_cell", clear)

        events.register("post_run_cell", clear)


def unquote(text):
    """A path argument without the quotes IPython's argument splitter keeps ("my face.jpg")."""
    if text and len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def open_panel(photo=None, model=None, llm="rules", steps=None, face=None):
    """Build a ChatFacePanel, turning the usual user mistakes into short UsageErrors."""
    from chatface_widgets.foundation.contract import UnknownAttributeError
    from chatface_widgets.photos.photo import PhotoError
    from chatface_widgets.widgets.panel import ChatFacePanel

    try:
        if face is not None and face < 1:
            raise ValueError(f"--face {face}: faces are numbered from 1 (the largest)")
        return ChatFacePanel(photo, engine=model, interpreter=llm, steps=steps,
                             face_index=None if face is None else face - 1)
    except (PhotoError, FileNotFoundError, UnknownAttributeError, ValueError, IndexError) as exc:
        raise UsageError(f"%chatface: {exc}") from exc


def load_ipython_extension(ipython) -> None:
    """Register ``%chatface`` (called by ``%load_ext chatface_widgets``)."""
    ipython.register_magics(ChatFaceMagics)


def unload_ipython_extension(ipython) -> None:
    """Remove ``%chatface`` (called by ``%unload_ext chatface_widgets``)."""
    ipython.magics_manager.magics["line"].pop("chatface", None)
