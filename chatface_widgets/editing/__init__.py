"""Attribute edits of the semantic code: the registry of mappers and directions, and z_edit (ChatFace Eq. 12)."""
