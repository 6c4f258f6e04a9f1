"""A small CLIP for the toy face world: an open_clip custom config trained contrastively on rendered faces.

The model is plain ``open_clip.CLIP`` (ViT image tower, causal text transformer, Radford et al. 2021)
built from a config dict, so the mapper trainer treats it exactly like ``ViT-B-32``. Two departures
keep the shipped file small and the loss honest on a world with few distinct captions:

* the token table holds only the BPE tokens that occur in toy captions (open_clip's own tokenizer
  runs first; every other token becomes one "unknown" row), and
* the contrastive loss counts every image whose caption is identical as a positive (multi-positive
  InfoNCE; with 256 attribute combinations a batch of 128 repeats captions often).

Train: ``python -m chatface_widgets.train.toy_clip --out weights/toy --minutes 8``
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from chatface_widgets.toy.attributes import PHRASES
from chatface_widgets.toy import ATTRIBUTES, HELDOUT_SEED_START, attribute_labels, make_caption, render_batch, sample_params

IMAGE_SIZE = 48  # the toy DiffAE's image size; the ViT takes it directly (8x8 patches of 6 px)
CONTEXT_LENGTH = 32  # the longest toy caption is 26 tokens with start/end
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # OpenAI CLIP normalisation, kept for one code path
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
# The caption phrase of each attribute ("a face with <phrase>") as make_caption writes it.
ATTRIBUTE_PHRASES = PHRASES  # from the one attribute table (toy.attributes)
NEUTRAL_PROMPT = "a face"


def toy_clip_config(vocab_size: int, patch_size: int = 6, width: int = 128) -> dict:
    """open_clip CLIP(**cfg) arguments: ViT on 48 px (3 layers), text transformer (2 layers), embed 64."""
    return {
        "embed_dim": 64,
        "vision_cfg": {"image_size": IMAGE_SIZE, "patch_size": patch_size, "width": width, "layers": 3, "head_width": 32,
                       "mlp_ratio": 2.0},
        "text_cfg": {"context_length": CONTEXT_LENGTH, "vocab_size": vocab_size, "width": width, "heads": 4,
                     "layers": 2, "mlp_ratio": 2.0},
    }


def build_toy_clip(config: dict):
    """An open_clip ``CLIP`` from a config dict (the same class ``open_clip.create_model`` returns)."""
    from open_clip.model import CLIP

    return CLIP(**config)


class CompactTokenizer:
    """open_clip's BPE tokenizer followed by a map from BPE ids to a small table (pad 0, unknown 1, kept ids).

    Kept ids stay in increasing order and the end-of-text id is the largest, so open_clip's
    ``argmax`` text pooling still finds the end token.
    """

    PAD, UNKNOWN = 0, 1

    def __init__(self, token_ids: Sequence[int], context_length: int = CONTEXT_LENGTH):
        from open_clip.tokenizer import SimpleTokenizer

        self.bpe = SimpleTokenizer(context_length=context_length)
        self.context_length = context_length
        self.token_ids = sorted(set(int(t) for t in token_ids) - {0})
        if self.token_ids[-1] != self.bpe.eot_token_id:
            raise ValueError("the kept token ids must include the end-of-text token")
        table = torch.full((len(self.bpe.encoder),), self.UNKNOWN, dtype=torch.long)
        table[0] = self.PAD
        table[torch.tensor(self.token_ids)] = torch.arange(2, 2 + len(self.token_ids))
        self.table = table

    @property
    def vocab_size(self) -> int:
        return 2 + len(self.token_ids)

    @classmethod
    def from_texts(cls, texts: Sequence[str], context_length: int = CONTEXT_LENGTH) -> "CompactTokenizer":
        """Keep every BPE id that occurs in ``texts`` (plus start and end of text)."""
        from open_clip.tokenizer import SimpleTokenizer

        bpe = SimpleTokenizer(context_length=context_length)
        ids = set(bpe(list(texts)).unique().tolist()) | {bpe.sot_token_id, bpe.eot_token_id}
        return cls(sorted(ids), context_length)

    def __call__(self, texts: Sequence[str] | str) -> torch.Tensor:
        texts = [texts] if isinstance(texts, str) else list(texts)
        return self.table[self.bpe(texts)]

    def unknown_words(self, text: str) -> list[str]:
        """Words of ``text`` with a BPE token outside the kept table (they carry no meaning for the model)."""
        return [w for w in text.split() if (self(w) == self.UNKNOWN).any()]


def caption_vocabulary(n: int = 4000) -> list[str]:
    """Captions of n training seeds plus the zero-shot prompts: the texts whose tokens the model keeps."""
    texts = {make_caption(sample_params(s)) for s in range(n)}
    texts |= {f"{NEUTRAL_PROMPT} with {p}" for p in ATTRIBUTE_PHRASES.values()} | {NEUTRAL_PROMPT}
    return sorted(texts)


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def clip_normalize(x: torch.Tensor, mean=CLIP_MEAN, std=CLIP_STD) -> torch.Tensor:
    """Images in [-1, 1] -> CLIP input: (x + 1)/2 then (· − mean)/std per channel."""
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return ((x + 1.0) * 0.5 - m) / s


def multi_positive_clip_loss(img: torch.Tensor, txt: torch.Tensor, captions: Sequence[str], logit_scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE (CLIP Fig. 3) where every pair with an identical caption is a positive."""
    logits = logit_scale.exp() * img @ txt.t()
    ids = {c: i for i, c in enumerate(dict.fromkeys(captions))}
    key = torch.tensor([ids[c] for c in captions], device=img.device)
    target = (key[:, None] == key[None, :]).float()
    target = target / target.sum(dim=1, keepdim=True)
    return 0.5 * (torch.sum(-target * F.log_softmax(logits, 1), 1).mean() + torch.sum(-target * F.log_softmax(logits.t(), 1), 1).mean())


@torch.no_grad()
def zero_shot_accuracy(model, tokenizer: CompactTokenizer, seeds: Sequence[int], batch: int = 250) -> dict:
    """Per attribute: present iff cos(img, "a face with X") > cos(img, "a face"); accuracy and balanced accuracy."""
    model.eval()
    prompts = [NEUTRAL_PROMPT] + [f"{NEUTRAL_PROMPT} with {ATTRIBUTE_PHRASES[a]}" for a in ATTRIBUTES]
    txt = model.encode_text(tokenizer(prompts), normalize=True)
    scores, labels = [], []
    seeds = list(seeds)
    for i in range(0, len(seeds), batch):
        chunk = seeds[i:i + batch]
        images, _ = render_batch(chunk, IMAGE_SIZE)
        img = model.encode_image(clip_normalize(images_to_tensor(images)), normalize=True)
        sim = img @ txt.t()
        scores.append(sim[:, 1:] - sim[:, :1])
        labels.append(torch.tensor([[attribute_labels(sample_params(s))[a] for a in ATTRIBUTES] for s in chunk]))
    scores, labels = torch.cat(scores), torch.cat(labels)
    pred = scores > 0
    out = {}
    for j, name in enumerate(ATTRIBUTES):
        y, p = labels[:, j], pred[:, j]
        tpr = (p & y).sum().item() / max(1, y.sum().item())
        tnr = (~p & ~y).sum().item() / max(1, (~y).sum().item())
        out[name] = {"accuracy": round((p == y).float().mean().item(), 4), "balanced_accuracy": round(0.5 * (tpr + tnr), 4)}
    out["mean_accuracy"] = round(float(np.mean([out[a]["accuracy"] for a in ATTRIBUTES])), 4)
    out["mean_balanced_accuracy"] = round(float(np.mean([out[a]["balanced_accuracy"] for a in ATTRIBUTES])), 4)
    out["n_images"] = len(seeds)
    return out


def save_toy_clip(model, tokenizer: CompactTokenizer, config: dict, folder, record: dict) -> Path:
    """Write ``clip.safetensors`` (fp16) and ``clip.json`` (open_clip config, kept token ids, preprocessing, record)."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().cpu().half().contiguous() for k, v in model.state_dict().items()}, str(folder / "clip.safetensors"))
    card = {"kind": "open_clip_custom", "model_cfg": config, "token_ids": tokenizer.token_ids,
            "context_length": tokenizer.context_length,
            "preprocess": {"size": IMAGE_SIZE, "mean": list(CLIP_MEAN), "std": list(CLIP_STD), "interpolation": "bicubic"},
            **record}
    (folder / "clip.json").write_text(json.dumps(card, indent=2) + "\n")
    return folder / "clip.safetensors"


def load_toy_clip(folder):
    """(open_clip CLIP in eval mode, CompactTokenizer, preprocess dict) from ``clip.safetensors`` + ``clip.json``."""
    from safetensors.torch import load_file

    folder = Path(folder)
    card = json.loads((folder / "clip.json").read_text())
    model = build_toy_clip(card["model_cfg"])
    state = {k: v.float() for k, v in load_file(str(folder / "clip.safetensors")).items()}
    model.load_state_dict(state, strict=True)
    return model.eval(), CompactTokenizer(card["token_ids"], card["context_length"]), card["preprocess"]


def train_toy_clip(out: str | Path, minutes: float = 8.0, batch: int = 128, lr: float = 1e-3, seed: int = 0,
                   eval_images: int = 1000, log_every: int = 20, patch_size: int = 6, width: int = 128,
                   warmup: int = 50) -> dict:
    """Train on fresh training seeds until the time budget is spent, evaluate zero-shot, save."""
    torch.manual_seed(seed)
    tokenizer = CompactTokenizer.from_texts(caption_vocabulary())
    config = toy_clip_config(tokenizer.vocab_size, patch_size, width)
    model = build_toy_clip(config).train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05, betas=(0.9, 0.98))
    budget, start = minutes * 60.0, time.time()
    step, next_seed, losses = 0, 1_000_000 + seed * 100_000_000, []
    while time.time() - start < budget:
        frac = (time.time() - start) / budget
        for g in opt.param_groups:  # linear warm-up, then cosine decay over the time budget
            g["lr"] = lr * min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * frac))
        seeds = range(next_seed, next_seed + batch)
        next_seed += batch
        images, _ = render_batch(seeds, IMAGE_SIZE)
        captions = [make_caption(sample_params(s)) for s in seeds]
        img = model.encode_image(clip_normalize(images_to_tensor(images)), normalize=True)
        txt = model.encode_text(tokenizer(captions), normalize=True)
        loss = multi_positive_clip_loss(img, txt, captions, model.logit_scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        losses.append(loss.item())
        step += 1
        if step % log_every == 0:
            print(f"step {step} loss {np.mean(losses[-log_every:]):.4f} {time.time() - start:.0f}s", flush=True)
    train_seconds = time.time() - start
    heldout = zero_shot_accuracy(model, tokenizer, range(HELDOUT_SEED_START, HELDOUT_SEED_START + eval_images))
    record = {
        "training": {"command": "python -m chatface_widgets.train.toy_clip " + " ".join(sys.argv[1:]),
                     "steps": step, "batch": batch, "lr": lr, "warmup": warmup, "seed": seed, "seconds": round(train_seconds, 1),
                     "images_seen": step * batch, "final_loss": round(float(np.mean(losses[-log_every:])), 4),
                     "threads": torch.get_num_threads()},
        "heldout_zero_shot": {"prompts": {a: f"{NEUTRAL_PROMPT} with {ATTRIBUTE_PHRASES[a]}" for a in ATTRIBUTES},
                              "versus": NEUTRAL_PROMPT, "seeds": f"{HELDOUT_SEED_START}+[0,{eval_images})", **heldout},
    }
    save_toy_clip(model, tokenizer, config, out, record)
    return record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the toy world's small CLIP (open_clip custom config).")
    parser.add_argument("--out", default="weights/toy")
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--patch-size", type=int, default=6)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    record = train_toy_clip(args.out, args.minutes, args.batch, args.lr, args.seed, patch_size=args.patch_size,
                            width=args.width, warmup=args.warmup)
    print(json.dumps(record["heldout_zero_shot"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
