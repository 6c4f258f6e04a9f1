"""The diffusion core: the DDIM schedule, one DDIM step, conditioning schedules and the samplers.

* ``respacing``: valid step counts and the timesteps they keep (pure numpy; no torch)
* ``schedule``: ᾱ of a step count, ε / v / x̂0 conversions, the v training target
* ``ddim``: the one DDIM step (η = 0), forwards or backwards
* ``conditioning``: per-step code schedules, ``constant(z)`` and ChatFace's ``sms(z, z_edit)``
* ``samplers``: ``invert``, ``decode`` and ``decode_differentiable``

Import the submodules you need; this package imports nothing heavy, so the chat layer can
validate step counts through ``respacing`` without torch.
"""
