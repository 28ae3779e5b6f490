"""A real X client for the end-to-end tests: a Tk window of a given WM_CLASS that logs
the input it receives as JSON lines on stdout.

    python xclient_log.py CLASS [TITLE]

The first line is ``{"type": "ready", "class": CLASS}`` once the window is mapped; then one line per
button press/release, key press/release and focus change, with the pointer position.
Motion is not logged line by line (there are hundreds): ``{"type": "motion", ...}`` lines
are written at most every 50 ms. Ends on SIGTERM or when stdin closes.
"""

from __future__ import annotations

import json
import signal
import sys
import time
import tkinter as tk

MOTION_EVERY_S = 0.05


def main(argv: list[str]) -> int:
    klass = argv[1]
    title = argv[2] if len(argv) > 2 else klass
    root = tk.Tk(className=klass)
    root.title(title)
    root.geometry("800x600+0+0")
    last_motion = [0.0]

    def emit(kind: str, **fields) -> None:
        sys.stdout.write(json.dumps({"type": kind, "t": time.monotonic(), **fields}) + "\n")
        sys.stdout.flush()

    root.bind("<ButtonPress>", lambda e: emit("button_press", button=e.num, x=e.x_root, y=e.y_root))
    root.bind("<ButtonRelease>", lambda e: emit("button_release", button=e.num, x=e.x_root, y=e.y_root))
    root.bind("<KeyPress>", lambda e: emit("key_press", keysym=e.keysym))
    root.bind("<KeyRelease>", lambda e: emit("key_release", keysym=e.keysym))
    root.bind("<FocusIn>", lambda e: emit("focus_in") if e.widget is root else None)

    def motion(e) -> None:
        now = time.monotonic()
        if now - last_motion[0] >= MOTION_EVERY_S:
            last_motion[0] = now
            emit("motion", x=e.x_root, y=e.y_root)

    root.bind("<Motion>", motion)
    signal.signal(signal.SIGTERM, lambda *_: root.after(0, root.destroy))
    root.tk.createfilehandler(sys.stdin, tk.READABLE, lambda *_: root.destroy() if not sys.stdin.readline() else None)
    root.wait_visibility()
    root.update()
    emit("ready", **{"class": klass})

    def tick() -> None:  # wake up now and then so SIGTERM is handled promptly
        root.after(100, tick)

    tick()
    root.mainloop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
