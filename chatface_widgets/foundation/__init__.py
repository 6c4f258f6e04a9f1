"""The rules every layer shares, in pure Python (no torch): the edit contract, render settings, safe file writes."""
