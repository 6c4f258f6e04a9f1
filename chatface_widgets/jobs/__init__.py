"""Jobs: what a command reads and writes (output planning), recipes, and batches of photos."""
