"""One shard of one run: the pipeline (search, grade, write) and what it records."""
