"""Helpers for tests and fixtures: deterministic generated weights."""
