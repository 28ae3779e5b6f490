"""The settings window: a local web interface served by the running daemon (loopback
only, behind a per-run token): the live view and state, profiles, taught poses, face
touches and settings. ``handmap ui`` opens it in the browser."""
