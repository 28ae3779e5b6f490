"""Desktop stage: the active-window watchers, one module per platform, and their selector.

A watcher reports the focused window (``base.ActiveWindow``) from its own thread;
``selector.select_window_watcher`` picks the one for this session. Which profile a window
gets is ``handmap.daemon.desktop.switching``'s business.
"""
