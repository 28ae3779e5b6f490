"""History: face-touch episodes (start, end, hand, profile) kept in SQLite (``store``),
read back by ``handmap stats``, the tray and ``handmap status``."""
