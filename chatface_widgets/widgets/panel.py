"""ChatFacePanel: the notebook view (core ipywidgets only) bound to a PanelController.

Observers only forward user input to the controller; controller signals update the widgets. Signals
arrive on worker threads and, with ipykernel 7 subshells, observers on several threads at once, so
every widget update runs under one view lock, and values written back into the sliders are marked
(per thread) so their observers do not echo them into the state.
"""

from __future__ import annotations

import html
import threading
from pathlib import Path
from types import MappingProxyType
from typing import Optional, Sequence

import ipywidgets as W

from chatface_widgets.foundation.contract import LOCAL_REACH_MAX, STRENGTH_MAX, STRENGTH_MIN
from chatface_widgets.widgets.controller import ChatEntry, PanelController, RenderResult, short_error
from chatface_widgets.widgets.imaging import blank, png_bytes
from chatface_widgets.widgets.loading import default_photo, load_engine, make_interpreter, photo_place
from chatface_widgets.widgets.state import PanelState
from chatface_widgets.foundation.where import PART_NAMES

LOG_LIMIT = 200  # chat lines kept in the log
ADD_PROMPT = "+ add a slider …"
PREVIEW_SIZE = 96
STRIP_SIZE = 96
ROLE_STYLE = {"user": ("You", "#1a5fb4"), "assistant": ("ChatFace", "#26a269"), "error": ("Error", "#c01c28")}


def css_name(attribute: str) -> str:
    """The DOM-class form of an attribute name: spaces as dashes."""
    return "-".join(attribute.split())


class ChatFacePanel:
    """Chat log and input, two-way sliders, steps/SMS, local edits (switch, reach, region view), image grid
    with live preview, undo/redo, save."""

    def __init__(self, photo=None, engine=None, interpreter=None, *, steps: Optional[int] = None, sms: bool = True,
                 sliders: Optional[Sequence[str] | int] = None, strip: bool = False, display_size: int = 160,
                 save_dir: Optional[str | Path] = None, face_index: Optional[int] = None, local: bool = True,
                 reach: Optional[float] = None):
        note = None
        if engine is None or isinstance(engine, (str, Path)):
            engine, note = load_engine(engine)
        self.engine = engine
        self.face = engine.open(default_photo(engine) if photo is None else photo, face_index=face_index)
        count = getattr(self.face.aligned, "count", 1)
        if count > 1:
            found = (f"Found {count} faces; editing face {self.face.aligned.index + 1} "
                     f"({'the largest' if self.face.aligned.index == 0 else 'as asked'}). Pick another in the face menu.")
            note = f"{note} {found}" if note else found
        self.interpreter = make_interpreter(interpreter, engine)
        stem, folder = photo_place(photo)
        attributes = list(engine.attributes)
        if isinstance(sliders, int):
            sliders = attributes[:sliders]
        state = PanelState(engine.contract.bounded(), active=sliders, steps=steps, sms=sms, strip=strip, local=local,
                           **({} if reach is None else {"reach": reach}))
        self.controller = PanelController(self.face, self.interpreter, state, stem=stem,
                                          save_dir=Path(save_dir) if save_dir else folder)
        self.display_size = int(display_size)
        self.chat_log: list[ChatEntry] = []
        self.status_text = ""
        self.status_is_error = False
        self._lock = threading.RLock()  # one widget update at a time
        self._local = threading.local()  # .syncing: this thread is writing state into the widgets
        self._skip_display = False
        self._build()
        self._bind()
        self._sync()
        if note:
            self.chat_log.append(ChatEntry("assistant", note))
            self._render_log()
        self.controller.start()

    # --- public API -------------------------------------------------------------------------

    @property
    def state(self) -> PanelState:
        return self.controller.state

    @property
    def sliders(self):
        """Attribute name → FloatSlider (every attribute has one; hidden ones appear once set)."""
        return MappingProxyType(self._sliders)

    @property
    def edited(self):
        """The last finished edit as a PIL image (None before the first render)."""
        result = self.controller.last_result
        return None if result is None else result.image

    @property
    def last_result(self) -> Optional[RenderResult]:
        return self.controller.last_result

    @property
    def last_error(self) -> Optional[BaseException]:
        return self.controller.last_error

    def send(self, text: str) -> None:
        """Send a chat message as if typed (interpreted and rendered in the background)."""
        self.controller.send(text)

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """Wait until thinking and rendering are done; False if ``timeout`` seconds passed first."""
        return self.controller.wait_idle(timeout)

    def save_png(self, folder: Optional[str | Path] = None) -> Path:
        """Write the current edit to a new PNG file and return its path."""
        return self.controller.save_png(Path(folder) if folder is not None else None)

    def save_recipe(self, folder: Optional[str | Path] = None) -> Path:
        """Save the current edit as a new ``<photo>-recipe-NNN.json`` (what "Save recipe" does)."""
        return self.controller.save_recipe(Path(folder) if folder is not None else None)

    def close(self) -> None:
        """Stop the worker threads and close every widget of the panel."""
        self.controller.close()
        with self._lock:
            for widget in _descendants(self.widget) + list(self._sliders.values()):
                widget.close()

    def _ipython_display_(self):
        """Display the root widget (skipped once right after ``%chatface`` displayed it itself)."""
        if self._skip_display:
            self._skip_display = False
            return
        from IPython.display import display

        display(self.widget)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<ChatFacePanel model={self.engine.info.name!r} attributes={len(self.engine.attributes)}>"

    # --- building ---------------------------------------------------------------------------

    def _build(self) -> None:
        """Create every widget (all sliders up front, so no widget is created on a worker thread)."""
        size = self.display_size
        snap = self.state.snapshot()
        self.chat_view = W.HTML(layout=W.Layout(width="100%"))
        self.chat_view.add_class("cf-log")
        self.chat_input = W.Text(placeholder="e.g. add a big smile and glasses", continuous_update=False,
                                 layout=W.Layout(flex="1 1 auto", width="auto"))
        self.chat_input.add_class("cf-chat")
        self.send_button = W.Button(description="Send", icon="paper-plane", layout=W.Layout(width="90px"))
        self.send_button.add_class("cf-send")
        chat_box = W.VBox([W.HTML("<b>Chat</b>"), self.chat_view, W.HBox([self.chat_input, self.send_button])],
                          layout=W.Layout(width="290px", flex="0 0 auto", margin="0 12px 8px 0"))

        self._sliders: dict[str, W.FloatSlider] = {}
        for name in self.state.attributes:
            slider = W.FloatSlider(value=0.0, min=STRENGTH_MIN, max=STRENGTH_MAX, step=0.05, description=name,
                                   continuous_update=False, readout_format=".2f",
                                   style={"description_width": "90px"}, layout=W.Layout(width="340px"))
            slider.add_class(f"cf-slider-{css_name(name)}")
            slider.add_class("cf-slider")
            self._sliders[name] = slider
        self.slider_box = W.VBox()
        self.add_menu = W.Dropdown(options=[(ADD_PROMPT, "")], value="", layout=W.Layout(width="250px"))
        self.add_menu.add_class("cf-add")
        self.steps_menu = W.Dropdown(options=self._step_options(snap.steps), value=snap.steps, description="steps",
                                     style={"description_width": "40px"}, layout=W.Layout(width="130px"))
        self.steps_menu.add_class("cf-steps")
        self.sms_box = W.Checkbox(value=snap.sms, description="SMS", indent=False, layout=W.Layout(width="70px"))
        self.sms_box.add_class("cf-sms")
        self.strip_box = W.Checkbox(value=snap.strip, description="strength strip", indent=False,
                                    layout=W.Layout(width="130px"))
        self.strip_box.add_class("cf-strip-toggle")
        self.local_box = W.Checkbox(value=snap.local, description="local edit", indent=False,
                                    layout=W.Layout(width="100px"))
        self.local_box.add_class("cf-local")
        self.reach_slider = W.FloatSlider(value=snap.reach, min=0.0, max=LOCAL_REACH_MAX, step=0.01, description="reach",
                                          continuous_update=False, readout_format=".2f", disabled=not snap.local,
                                          style={"description_width": "40px"}, layout=W.Layout(width="230px"))
        self.reach_slider.add_class("cf-reach")
        self.undo_button = W.Button(description="Undo", icon="undo", layout=W.Layout(width="80px"))
        self.redo_button = W.Button(description="Redo", icon="repeat", layout=W.Layout(width="80px"))
        self.reset_button = W.Button(description="Reset", icon="refresh", layout=W.Layout(width="80px"))
        self.save_button = W.Button(description="Save PNG", icon="save", layout=W.Layout(width="100px"))
        self.recipe_button = W.Button(description="Save recipe", icon="file-text", layout=W.Layout(width="120px"),
                                      tooltip="save this edit as a recipe for `chatface batch` and cf.apply")
        for cls, button in (("undo", self.undo_button), ("redo", self.redo_button), ("reset", self.reset_button),
                            ("save", self.save_button), ("save-recipe", self.recipe_button)):
            button.add_class(f"cf-{cls}")
        controls = W.VBox([W.HTML("<b>Attributes</b>"), self.slider_box, self.add_menu,
                           W.HBox([self.steps_menu, self.sms_box, self.strip_box]),
                           W.HBox([self.local_box, self.reach_slider]),
                           W.HBox([self.undo_button, self.redo_button, self.reset_button]),
                           W.HBox([self.save_button, self.recipe_button])],
                          layout=W.Layout(width="350px", flex="0 0 auto", margin="0 12px 8px 0"))

        original = png_bytes(self.face.image, size)
        self.image_original = W.Image(value=original, format="png", layout=_image_layout(size))
        self.image_original.add_class("cf-image-original")
        self.image_edited = W.Image(value=png_bytes(blank(self.face.image.width), size), format="png",
                                    layout=_image_layout(size))
        self.image_edited.add_class("cf-image-edited")
        self.progress = W.IntProgress(value=0, min=0, max=snap.steps, description="decode",
                                      style={"description_width": "50px"}, layout=W.Layout(width=f"{size}px"))
        self.progress.add_class("cf-progress")
        self.preview = W.Image(value=png_bytes(blank(self.face.image.width), PREVIEW_SIZE), format="png",
                               layout=W.Layout(width=f"{PREVIEW_SIZE // 2}px"))
        self.preview.add_class("cf-image-preview")
        count = getattr(self.face.aligned, "count", 1)
        self.face_menu = W.Dropdown(options=[(f"face {i + 1} of {count}", i) for i in range(count)],
                                    value=getattr(self.face.aligned, "index", 0), layout=W.Layout(
                                        width=f"{size}px", display="flex" if count > 1 else "none"))
        self.face_menu.add_class("cf-face")
        self.image_region = W.Image(value=original, format="png", layout=_image_layout(size // 2))
        self.image_region.add_class("cf-image-region")
        self.region_view = W.VBox([W.HTML("Region"), self.image_region], layout=W.Layout(
            margin="0 0 0 8px", display="flex" if snap.local else "none"))
        where = self._build_where(snap)
        grid = W.HBox([W.VBox([W.HTML("Original"), self.image_original, self.face_menu],
                              layout=W.Layout(margin="0 8px 0 0")),
                       W.VBox([W.HTML("Edited"), self.image_edited]), self.region_view])
        images = W.VBox([grid, W.HBox([self.progress, self.preview], layout=W.Layout(align_items="center")), where],
                        layout=W.Layout(flex="0 0 auto"))

        self.strip_images = [W.Image(value=png_bytes(blank(self.face.image.width), STRIP_SIZE), format="png",
                                     layout=W.Layout(width=f"{STRIP_SIZE}px"))
                             for _ in self.controller.strip_strengths]
        self.strip_labels = [W.HTML(f"{s:+.1f}") for s in self.controller.strip_strengths]
        self.strip_title = W.HTML()
        self.strip_view = W.VBox([self.strip_title, W.HBox([W.VBox([label, image]) for label, image in
                                                              zip(self.strip_labels, self.strip_images)])],
                                 layout=W.Layout(display="flex" if snap.strip else "none"))
        self.strip_view.add_class("cf-strip")

        self.status_line = W.HTML()
        self.status_line.add_class("cf-status")
        title = W.HTML(f"<b>ChatFace</b> · model <code>{html.escape(self.engine.info.name)}</code> · "
                       f"{self.engine.image_size} px · {len(self.engine.attributes)} attributes")
        columns = W.HBox([chat_box, controls, images], layout=W.Layout(flex_flow="row wrap"))  # wrap, never squeeze
        self.widget = W.VBox([title, columns, self.strip_view, self.status_line],
                             layout=W.Layout(padding="6px"))
        self.widget.add_class("cf-panel")
        self._render_log()

    def _build_where(self, snap) -> W.Widget:
        """Where edits may act (issue 30): parts to keep, parts to limit to, and a brush on the original image."""
        self.keep_select = W.SelectMultiple(options=PART_NAMES, value=snap.keep, rows=4, description="keep",
                                            style={"description_width": "40px"}, layout=W.Layout(width="170px"))
        self.keep_select.add_class("cf-keep")
        self.only_select = W.SelectMultiple(options=PART_NAMES, value=snap.only, rows=4, description="only",
                                            style={"description_width": "40px"}, layout=W.Layout(width="170px"))
        self.only_select.add_class("cf-only")
        parts = W.VBox([W.HTML("<b>Where</b> (parts)"), W.HBox([self.keep_select, self.only_select])])
        try:
            from chatface_widgets.widgets.brush import Brush

            self.brush = Brush(self.face.image, self.display_size, self._on_stroke)
            painting = self.brush.widget
        except ImportError:  # the brush needs ipycanvas (the widgets extra)
            self.brush = None
            painting = W.HTML('<i>Painting needs ipycanvas: pip install "chatface-widgets[widgets]"</i>')
        self._shown_mask = snap.mask
        box = W.HBox([painting, parts], layout=W.Layout(margin="8px 0 0 0", flex_flow="row wrap"))
        box.add_class("cf-where")
        return box

    def _on_stroke(self, mask) -> None:
        """A brush stroke ended (or Clear): the painted mask, as one undoable change."""
        try:
            self.controller.set_where(mask=mask)
        except Exception as exc:  # noqa: BLE001 - shown to the user, and kept in last_error
            self.controller.last_error = exc
            self._on_status(short_error(exc), True)
        with self._lock:
            self._shown_mask = self.state.snapshot().mask

    def _step_options(self, steps: int) -> list[int]:
        return sorted(set(self.state.contract.steps.choices()) | {int(steps)})

    # --- view → controller ------------------------------------------------------------------

    def _bind(self) -> None:
        """Connect widget events to controller calls, and controller signals to widget updates."""
        for name, slider in self._sliders.items():
            slider.observe(self._forward(lambda change, name=name: self._on_slider(name, change["new"])),
                           names="value")
        self.chat_input.observe(self._forward(self._on_submit), names="value")
        self.send_button.on_click(self._forward(lambda _: self._on_submit({"new": self.chat_input.value})))
        self.add_menu.observe(self._forward(lambda change: change["new"] and
                                            self.controller.add_attribute(change["new"])), names="value")
        self.steps_menu.observe(self._forward(lambda change: self.controller.set_steps(change["new"])), names="value")
        self.sms_box.observe(self._forward(lambda change: self.controller.set_sms(change["new"])), names="value")
        self.strip_box.observe(self._forward(lambda change: self.controller.set_strip(change["new"])), names="value")
        self.local_box.observe(self._forward(lambda change: self.controller.set_local(change["new"])), names="value")
        self.reach_slider.observe(self._forward(lambda change: self.controller.set_reach(change["new"])), names="value")
        self.keep_select.observe(self._forward(lambda change: self.controller.set_where(keep=change["new"])),
                                 names="value")
        self.only_select.observe(self._forward(lambda change: self.controller.set_where(only=change["new"])),
                                 names="value")
        self.undo_button.on_click(self._forward(lambda _: self.controller.undo()))
        self.redo_button.on_click(self._forward(lambda _: self.controller.redo()))
        self.reset_button.on_click(self._forward(lambda _: self.controller.reset()))
        self.save_button.on_click(self._forward(lambda _: self.controller.save_png()))
        self.recipe_button.on_click(self._forward(lambda _: self.controller.save_recipe()))
        c = self.controller
        c.changed.connect(lambda _snap: self._sync())
        c.rendered.connect(self._on_rendered)
        c.progress.connect(self._on_progress)
        c.status.connect(self._on_status)
        c.busy.connect(self._on_busy)
        c.chat.connect(self._on_chat)
        c.face_changed.connect(self._on_face_changed)
        self.face_menu.observe(self._forward(lambda change: self.controller.choose_face(change["new"])), names="value")

    def _forward(self, action):
        """Wrap an observer: ignore our own write-backs, and show any error in the status line."""
        def observer(change):
            if getattr(self._local, "syncing", False):
                return
            try:
                action(change)
            except Exception as exc:  # noqa: BLE001 - shown to the user, and kept in last_error
                self.controller.last_error = exc
                self._on_status(short_error(exc), True)
        return observer

    def _on_slider(self, name: str, value: float) -> None:
        """Send a slider's value to the state; the slider then shows the state's value.

        A rejected value (NaN) raises here and the status line says why; a value the state rounds or
        that leaves it unchanged sends no change signal. Either way the slider snaps back to the state.
        """
        try:
            self.controller.set_strength(name, value)
        finally:
            with self._lock:
                shown = self.state.snapshot().strengths.get(name)
                slider = self._sliders[name]
                if shown is not None and not slider.value == shown:  # `not ==`: NaN is never equal
                    self._local.syncing = True
                    try:
                        slider.value = shown
                    finally:
                        self._local.syncing = False

    def _on_submit(self, change) -> None:
        text = str(change["new"] or "")
        if not text.strip():
            return
        with self._lock:
            self._local.syncing = True
            try:
                self.chat_input.value = ""
            finally:
                self._local.syncing = False
        self.controller.send(text)

    # --- controller → view ------------------------------------------------------------------

    def _sync(self) -> None:
        """Write the newest state into the widgets (sliders, menus, switches, button states)."""
        with self._lock:
            snap = self.state.snapshot()
            self._local.syncing = True
            try:
                for name in snap.active:
                    slider = self._sliders[name]
                    if slider.value != snap.strengths[name]:
                        slider.value = snap.strengths[name]
                shown = tuple(self._sliders[name] for name in snap.active)
                if tuple(self.slider_box.children) != shown:
                    self.slider_box.children = shown
                if snap.steps not in self.steps_menu.options:
                    self.steps_menu.options = self._step_options(snap.steps)
                self.steps_menu.value = snap.steps
                self.sms_box.value = snap.sms
                self.strip_box.value = snap.strip
                self.strip_view.layout.display = "flex" if snap.strip else "none"
                self.local_box.value = snap.local
                if self.reach_slider.value != snap.reach:
                    self.reach_slider.value = snap.reach
                self.reach_slider.disabled = not snap.local
                self.region_view.layout.display = "flex" if snap.local or snap.settings.constrained else "none"
                if tuple(self.keep_select.value) != snap.keep:
                    self.keep_select.value = snap.keep
                if tuple(self.only_select.value) != snap.only:
                    self.only_select.value = snap.only
                if snap.mask != self._shown_mask:  # undo, redo, "edit anywhere": the paint follows the state
                    self._shown_mask = snap.mask
                    if self.brush is not None:
                        from chatface_widgets.widgets.brush import paint_of

                        self.brush.show(paint_of(None if snap.mask is None else snap.mask.pixels, self.brush.cells))
                self.undo_button.disabled = not snap.can_undo
                self.redo_button.disabled = not snap.can_redo
                hidden = [a for a in self.state.attributes if a not in snap.active]
                options = [(ADD_PROMPT, "")] + [(a, a) for a in hidden]
                if list(self.add_menu.options) != options:
                    self.add_menu.options = options
                self.add_menu.value = ""
                self.add_menu.disabled = not hidden
            finally:
                self._local.syncing = False

    def _on_rendered(self, result: RenderResult) -> None:
        with self._lock:
            self.image_edited.value = png_bytes(result.image, self.display_size)
            if result.region is not None:
                self.image_region.value = png_bytes(result.region, self.display_size // 2)
            if result.strip:
                self.strip_title.value = f"Strength strip: <b>{html.escape(result.strip_attribute)}</b>"
                for widget, image in zip(self.strip_images, result.strip):
                    widget.value = png_bytes(image, STRIP_SIZE)

    def _on_face_changed(self, face) -> None:
        with self._lock:
            self.face = face
            self.image_original.value = png_bytes(face.image, self.display_size)
            if self.brush is not None:
                self.brush.set_image(face.image)

    def _on_progress(self, done: int, total: int, preview) -> None:
        with self._lock:
            if self.progress.max != total:
                self.progress.max = total
            self.progress.value = min(done, total)
            if preview is not None:
                self.preview.value = png_bytes(preview, PREVIEW_SIZE)

    def _on_status(self, text: str, is_error: bool) -> None:
        with self._lock:
            self.status_text, self.status_is_error = text, is_error
            color = "#c01c28" if is_error else "#555"
            self.status_line.value = f'<span style="color:{color}">{html.escape(text)}</span>'

    def _on_busy(self, busy: bool) -> None:
        with self._lock:
            if busy:
                self.widget.add_class("cf-busy")
            else:
                self.widget.remove_class("cf-busy")

    def _on_chat(self, entry: ChatEntry) -> None:
        with self._lock:
            self.chat_log.append(entry)
            del self.chat_log[:-LOG_LIMIT]
            self._render_log()

    def _render_log(self) -> None:
        """The chat log as escaped HTML, newest at the bottom and kept in view (column-reverse)."""
        lines = []
        for entry in reversed(self.chat_log):
            who, color = ROLE_STYLE.get(entry.role, (entry.role, "#333"))
            note = f'<br><i style="color:#777">{html.escape(entry.note)}</i>' if entry.note else ""
            lines.append(f'<div style="margin:2px 0"><b style="color:{color}">{who}:</b> '
                         f"{html.escape(entry.text)}{note}</div>")
        if not lines:
            lines.append('<div style="color:#777">Ask for a change, e.g. "add a big smile", "remove the glasses", '
                         '"a bit more", "undo".</div>')
        self.chat_view.value = ('<div style="display:flex;flex-direction:column-reverse;height:260px;overflow-y:auto;'
                                'box-sizing:border-box;width:100%;border:1px solid #ccc;padding:4px;font-size:13px">'
                                + "".join(lines) + "</div>")


def _image_layout(size: int) -> W.Layout:
    """A fixed square box for an image (boxes must not shrink it)."""
    return W.Layout(width=f"{size}px", height=f"{size}px", min_width=f"{size}px", flex="0 0 auto")


def _descendants(widget) -> list:
    """A widget and all the widgets inside it (boxes' children, depth first)."""
    found = [widget]
    for child in getattr(widget, "children", ()):
        found.extend(_descendants(child))
    return found
