"""Contract readers and writers: run directories and JSON Lines."""
