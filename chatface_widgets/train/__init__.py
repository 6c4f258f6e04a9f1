"""Training tools: the built-in DiffAE, ChatFace mappers, judges, the face parser and texture painter."""
