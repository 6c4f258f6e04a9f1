"""The diffusion core: the DDIM schedule, one DDIM step, and the samplers built from it.

Import the submodules you need; this package imports nothing heavy (``respacing`` is pure numpy,
so the chat layer can validate step counts without torch).
"""
