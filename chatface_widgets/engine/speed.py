"""A faster DiffAE forward for the samplers: small, named, switchable optimisations over a float32 DiffAE.

    net = prepare(model, "cpu", mode="auto")    # callable net(x, t, z) -> float32 raw prediction (ε or v)
    net.baseline(x, t, z)                       # the plain float32 eager model, untouched

Like the model, the wrapper returns the UNet's raw output; ``chatface_widgets.diffusion`` reads it.

Each optimisation is one field of :class:`SpeedOptions`. ``mode`` picks a preset; keyword
overrides switch single options on or off (``prepare(m, "cuda", "gpu-fast", compile=None)``).
``prepare`` never modifies the model: options that change weights work on a private copy (the
Engine shares its weights instead, to save memory). Inference only: the fast path runs without
gradients. Measurements behind the presets are in ``BENCHMARKS.md``.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, replace
from typing import Callable, Optional

import torch
from torch import nn

MODES = ("auto", "off", "cpu-fast", "gpu-fast")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class SpeedOptions:
    """Which optimisations wrap the UNet; every field off reproduces the plain float32 model."""

    channels_last: bool = False  # NHWC weights and activations (oneDNN and cuDNN prefer them)
    autocast: Optional[str] = None  # "bf16" / "fp16": reduced-precision UNet (GroupNorm stays fp32)
    # Reduced precision (autocast, implicit_bf16) only for decoding steps at t ≤ this; None: every call.
    # An ε error reaches x̂0 scaled by √(1/ā_t − 1): 47 at t = 875, 0.43 at t = 125, 0.01 at t = 0,
    # so late decoding steps tolerate bf16. Inversion runs the other way (its t = 0 error is
    # amplified into x_T) and stays float32.
    reduced_max_t: Optional[int] = None
    implicit_bf16: bool = False  # CPU: oneDNN rounds fp32 conv/matmul inputs to bf16 (AMX), fp32 accumulation
    tf32: bool = False  # CUDA: TF32 tensor cores for fp32 conv/matmul
    compile: Optional[str] = None  # torch.compile mode: "default", "max-autotune", "max-autotune-no-cudagraphs", ...
    freeze: bool = False  # inductor freezing: weights become constants, oneDNN prepacks them (CPU)
    cuda_graph: bool = False  # CUDA: one captured graph per input shape, replayed from preallocated buffers
    cudnn_benchmark: bool = False  # CUDA: let cuDNN time its convolution algorithms once per shape

    def describe(self) -> str:
        """The switched-on options as a short string, e.g. 'channels_last+compile=default'."""
        parts = [k if v is True else f"{k}={v}" for k, v in vars(self).items() if v is not None and v is not False]
        return "+".join(parts) or "off"


PRESETS = {
    "off": SpeedOptions(),
    # CPU, opt-in (BENCHMARKS.md, ffhq128, T = 8, 1 core): bf16 (AMX) on the last three decoding
    # steps: 1.44× at max_abs_diff 1.8e-2 with random weights (8.6e-3 with the trained toy model).
    "cpu-fast": SpeedOptions(channels_last=True, autocast="bf16", reduced_max_t=250),
    # Not yet measured on a GPU: fp16 keeps 3 more mantissa bits than bf16 (bf16 fails 1e-2 on CPU);
    # max-autotune brings inductor's CUDA graphs. Confirm with benchmarks/gpu_check.sh.
    "gpu-fast": SpeedOptions(channels_last=True, autocast="fp16", compile="max-autotune", cudnn_benchmark=True),
}


def has_fast_bf16() -> bool:
    """Whether this CPU runs bf16 convolutions natively (AMX tiles or AVX-512 BF16)."""
    try:
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except AttributeError:  # older torch
        return False


def auto_options(device: torch.device) -> SpeedOptions:
    """What ``mode="auto"`` uses: only options measured to win while keeping max_abs_diff ≤ 1e-2 at T = 8."""
    if device.type == "cpu":
        if has_fast_bf16():  # bf16 only at the last decoding step (t = 0): ffhq128 1.15×, diff 2.7e-4
            return SpeedOptions(channels_last=True, autocast="bf16", reduced_max_t=0)
        return SpeedOptions(channels_last=True)
    if device.type == "cuda":
        # Provisional until benchmarks/gpu_check.sh has run: fp16 + channels-last + captured graphs, no compile wait.
        return SpeedOptions(channels_last=True, autocast="fp16", cuda_graph=True, cudnn_benchmark=True)
    return PRESETS["off"]


def resolve_options(device, mode: str = "auto", **overrides) -> SpeedOptions:
    """A preset name plus per-option overrides → SpeedOptions (unknown names raise)."""
    if mode not in MODES:
        raise ValueError(f"unknown speed mode {mode!r}; choose one of {', '.join(MODES)}")
    device = torch.device(device)
    options = auto_options(device) if mode == "auto" else PRESETS[mode]
    options = replace(options, **overrides)
    if options.autocast not in (None, *_DTYPES):
        raise ValueError(f"autocast must be None, 'bf16' or 'fp16', got {options.autocast!r}")
    if device.type != "cuda" and (options.cuda_graph or options.tf32 or options.cudnn_benchmark):
        raise ValueError("cuda_graph, tf32 and cudnn_benchmark need a CUDA device")
    if options.freeze and options.compile is None:
        raise ValueError("freeze is an inductor option: set compile too")
    return options


class _BackendPrecision:
    """Context manager for oneDNN's fp32 precision and CUDA TF32 (None leaves a flag as it is); restores on exit."""

    def __init__(self, implicit_bf16: Optional[bool] = None, tf32: Optional[bool] = None,
                 cudnn_benchmark: Optional[bool] = None):
        self.implicit_bf16, self.tf32, self.cudnn_benchmark = implicit_bf16, tf32, cudnn_benchmark

    def __enter__(self):
        self._saved = (torch.backends.mkldnn.fp32_precision, torch.backends.cuda.matmul.allow_tf32,
                       torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark)
        if self.implicit_bf16 is not None:
            torch.backends.mkldnn.fp32_precision = "bf16" if self.implicit_bf16 else "none"
        if self.tf32 is not None:
            torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = self.tf32
        if self.cudnn_benchmark is not None:
            torch.backends.cudnn.benchmark = self.cudnn_benchmark

    def __exit__(self, *exc):
        (torch.backends.mkldnn.fp32_precision, torch.backends.cuda.matmul.allow_tf32,
         torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark) = self._saved


class _Forward(nn.Module):
    """The raw prediction (x, t, z) of a (copied) UNet with the layout and autocast of the options; returns float32."""

    def __init__(self, unet: nn.Module, options: SpeedOptions, device_type: str):
        super().__init__()
        self.unet = unet
        self.channels_last = options.channels_last
        self.dtype = _DTYPES.get(options.autocast)
        self.device_type = device_type
        # Capturing a graph needs autocast's weight-cast cache off (torch.cuda.graph docs).
        self.cache_casts = not options.cuda_graph

    def forward(self, x: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.dtype is None:
            return self.unet(x, t, z).contiguous()
        with torch.autocast(self.device_type, dtype=self.dtype, cache_enabled=self.cache_casts):
            out = self.unet(x, t, z)
        return out.float().contiguous()


class _Graphed:
    """Replays one captured CUDA graph per input shape; inputs are copied into preallocated buffers."""

    def __init__(self, fn: Callable, warmup: int = 3):
        self.fn = fn
        self.warmup = warmup
        self.graphs: dict = {}

    def _capture(self, args: tuple):
        static = tuple(a.clone() for a in args)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(self.warmup):  # lets cuDNN pick algorithms and the allocator settle
                self.fn(*static)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = self.fn(*static)
        return graph, static, out

    def __call__(self, *args: torch.Tensor) -> torch.Tensor:
        key = tuple((tuple(a.shape), a.dtype, a.device) for a in args)
        if key not in self.graphs:
            self.graphs[key] = self._capture(args)
        graph, static, out = self.graphs[key]
        for buffer, value in zip(static, args):
            buffer.copy_(value)
        graph.replay()
        return out.clone()


class _Encode(nn.Module):
    """z = Enc(x0) of a (copied) model in float32, channels-last input when asked."""

    def __init__(self, unet: nn.Module, channels_last: bool):
        super().__init__()
        self.unet = unet
        self.channels_last = channels_last

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            x0 = x0.contiguous(memory_format=torch.channels_last)
        return self.unet.encode(x0)


class Accelerator:
    """Callable (x, t, z) → raw prediction (ε or v) of a float32 DiffAE with SpeedOptions; ``.model`` kept unless share_weights."""

    def __init__(self, model: nn.Module, device, options: SpeedOptions = SpeedOptions(), fallback: bool = False,
                 share_weights: bool = False):
        self.model = model
        self.device = torch.device(device)
        self.options = options
        self.fallback = fallback  # on a failing fast path: warn and use the plain model (Engine) instead of raising
        self.share_weights = share_weights  # convert ``model`` in place (saves a copy; no plain baseline left)
        self._unet = self.model  # the (possibly channels-last) copy the wrappers run
        self._recent_t: tuple = (None, None)  # timesteps of the last two calls: tells decoding from inversion
        self._fast, self._fp32 = self._build()
        self._encode = self._build_encode()

    def _build(self) -> tuple[Callable, Optional[Callable]]:
        """(fast forward, float32 forward for t > reduced_max_t or None); no options → the model itself."""
        o = self.options
        if o == SpeedOptions():
            return self.model, None
        changes_weights = o.channels_last or o.freeze or o.compile is not None
        unet = copy.deepcopy(self.model) if changes_weights and not self.share_weights else self.model
        if o.channels_last:
            unet = unet.to(memory_format=torch.channels_last)
        self._unet = unet
        fast = self._wrap(_Forward(unet, o, self.device.type).eval())
        if not (o.autocast or o.implicit_bf16) or o.reduced_max_t is None:
            return fast, None
        exact = replace(o, autocast=None, implicit_bf16=False)
        return fast, self._wrap(_Forward(unet, exact, self.device.type).eval())

    def _wrap(self, fn: nn.Module) -> Callable:
        """Add compilation or CUDA-graph replay around one forward module."""
        if self.options.compile is not None:
            return self._compiled(fn)
        if self.options.cuda_graph:
            return _Graphed(fn)
        return fn

    def _compiled(self, fn: nn.Module) -> Callable:
        """torch.compile with inductor (the mode's settings); freezing turns weights into prepacked constants."""
        from torch._inductor import list_mode_options

        settings = {**list_mode_options(self.options.compile), "freezing": self.options.freeze}
        return torch.compile(fn, options=settings, dynamic=False)

    @property
    def name(self) -> str:
        return self.options.describe()

    def baseline(self, x: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The plain float32 eager forward with TF32 and implicit bf16 off (the reference for max_abs_diff)."""
        with _BackendPrecision(implicit_bf16=False, tf32=False):
            return self.model(x, t, z)

    def baseline_encode(self, x0: torch.Tensor) -> torch.Tensor:
        """The plain float32 encoder with TF32 off (reference for the open benchmark)."""
        with torch.no_grad(), _BackendPrecision(implicit_bf16=False, tf32=False):
            return self.model.encode(x0)

    def __call__(self, x: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if self._fast is self.model:
            return self.model(x, t, z)
        try:
            return self._fast_forward(x, t, z)
        except Exception as err:  # noqa: BLE001 - any failure of an optional path falls back when allowed
            if not self.fallback:
                raise
            warnings.warn(f"speed path {self.name} failed ({type(err).__name__}: {err}); using the plain float32 model")
            self._fast, self._fp32, self._encode = self.model, None, None
            return self.model(x, t, z)

    def _fast_forward(self, x: torch.Tensor, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The raw prediction through the wrappers; float32 for t > reduced_max_t."""
        o = self.options
        graphs_in_compile = o.compile in ("max-autotune", "reduce-overhead") and self.device.type == "cuda"
        reduced = self._fp32 is None or self._late_decoding_step(int(t.max()))
        flags = _BackendPrecision(implicit_bf16=(o.implicit_bf16 and reduced) or None, tf32=o.tf32 or None,
                                  cudnn_benchmark=o.cudnn_benchmark or None)
        with torch.no_grad(), flags:
            if graphs_in_compile:
                torch.compiler.cudagraph_mark_step_begin()
            out = (self._fast if reduced else self._fp32)(x, t, z)
        return out.clone() if graphs_in_compile else out  # inductor's graph outputs are reused by the next call

    def _late_decoding_step(self, t: int) -> bool:
        """t ≤ reduced_max_t inside a decoding chain: t fell by the same stride over the last two calls."""
        before, before2 = self._recent_t
        self._recent_t = (t, before)
        return t <= self.options.reduced_max_t and before is not None and before2 is not None \
            and before - t == before2 - before > 0

    def encode(self, x0: torch.Tensor) -> torch.Tensor:
        """z = Enc(x0) in float32 (as the reference): channels-last weights and a CUDA graph when the options use them."""
        if self._encode is None:
            return self.model.encode(x0)
        flags = _BackendPrecision(tf32=self.options.tf32 or None, cudnn_benchmark=self.options.cudnn_benchmark or None)
        with torch.no_grad(), flags:
            return self._encode(x0)

    def _build_encode(self) -> Optional[Callable]:
        """The encoder path: None (plain model) unless channels-last or CUDA graphs apply."""
        o = self.options
        if not (o.channels_last or o.cuda_graph) or self._fast is self.model:
            return None
        fn = _Encode(self._unet, o.channels_last).eval()
        return _Graphed(fn) if o.cuda_graph else fn


def prepare(model: nn.Module, device="cpu", mode: str = "auto", **overrides) -> Accelerator:
    """Wrap ``model`` as a callable net(x, t, z) -> raw prediction with the options of ``mode`` (and overrides)."""
    return Accelerator(model, device, resolve_options(device, mode, **overrides))


def safe_prepare(model: nn.Module, device="cpu", speed="auto", share_weights: bool = True) -> Accelerator:
    """prepare() for the Engine: a mode name, SpeedOptions or an Accelerator; failures fall back to 'off'."""
    if isinstance(speed, Accelerator):
        return speed
    try:
        options = speed if isinstance(speed, SpeedOptions) else resolve_options(device, speed or "off")
        return Accelerator(model, device, options, fallback=True, share_weights=share_weights)
    except (RuntimeError, ImportError) as err:  # e.g. a torch build without inductor
        warnings.warn(f"speed={speed!r} unavailable ({err}); using the plain float32 model")
        return prepare(model, device, "off")
