"""Reports upward: what a unit reports, and the consolidated report of the level above."""
