"""History: face-touch episodes, stored."""
