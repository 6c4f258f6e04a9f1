"""Named DiffAE configurations: the official topologies, the built-in model and the tiny test model.

Every part that needs a model's shape by name (catalogue, trainer, benchmarks, tests) reads it here.
"""

from __future__ import annotations

from chatface_widgets.models.diffae import OFFICIAL_CONFIGS, DiffAEConfig

# Official ffhq256_autoenc: 168,492,291 parameters with the encoder; ε-prediction (defined where loading identifies it).
FFHQ256 = OFFICIAL_CONFIGS["ffhq256_autoenc"]
# Official ffhq128_autoenc_130M: 128,545,155 parameters with the encoder; ε-prediction.
FFHQ128 = OFFICIAL_CONFIGS["ffhq128_autoenc_130M"]
# The built-in model: 48 px procedural faces, v-prediction, T = 10 by default (weights/toy/README.md).
TOY = DiffAEConfig(
    model_channels=32, channel_mult=(1, 2, 2, 4), num_res_blocks=1, attn_levels=(2,), embed_channels=128,
    z_channels=128, enc_channel_mult=(1, 2, 2, 4, 4), enc_num_res_blocks=1, enc_attn_levels=(), num_heads=1,
    dropout=0.0, image_size=48, default_steps=10, prediction="v",
)
# A random-weight test model: every code path in milliseconds (tests, plumbing demos, overhead benchmarks).
TINY = DiffAEConfig(
    model_channels=8, channel_mult=(1, 2), num_res_blocks=1, attn_levels=(1,), embed_channels=32, z_channels=32,
    enc_channel_mult=(1, 2, 2), enc_num_res_blocks=1, enc_attn_levels=(), dropout=0.0, image_size=32, default_steps=8,
)

NAMED = {"ffhq256": FFHQ256, "ffhq128": FFHQ128, "toy": TOY, "tiny": TINY}
