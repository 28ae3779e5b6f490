"""Desktop integration: what the daemon needs from the user's session.

- ``session``: the one place that says what kind of session this is (X11, Wayland,
  macOS, Windows, none) and which display to use;
- ``windows``: the active-window watchers, one module per platform, and their selector;
  ``switching``: which profile a window gets, and the switch it asks the daemon for;
- ``tray``: the tray icon and menu; ``notify``: face-touch notifications and sound;
- ``hotkey``: the global pause hotkey; ``service``: the systemd user unit and the macOS
  LaunchAgent; ``waiting``: started before the desktop, waiting for the display.
"""
