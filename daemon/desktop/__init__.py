"""Desktop integration: the session, window watchers, tray, notifications, the pause hotkey, the login service."""
