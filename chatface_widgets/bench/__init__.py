"""Speed benchmarks of the fast path (``python -m chatface_widgets.bench``)."""
