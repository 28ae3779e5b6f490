"""Tools: the commands around the daemon (bench, doctor, detect's drawing, preview)."""
