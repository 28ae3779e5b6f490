"""Runtime: the per-frame pipeline, its threads, the run loop, the daemon's state and the composition root."""
