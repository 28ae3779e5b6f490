"""The first run opens the settings window (issue 22): ``handmap run`` in first-run mode
on a real X display (Xvfb) starts the settings window's server and hands its login
address to the user's browser. The browser is the one part replaced: ``$BROWSER`` names
a small script that, while the daemon runs, writes down the address it is given, keeps a
copy of the window's private access file and fetches the address's page (Python's
``webbrowser`` runs it as it would run firefox). Without a display
(tests/integration/test_first_run.py) no browser is started.
"""

from __future__ import annotations

import io
import json
import logging
import stat
import sys
import webbrowser

from e2e_util import idle_trace, private_env


def test_first_run_opens_the_settings_window_in_the_browser(desktop, tmp_path, monkeypatch):
    from handmap.daemon.capture import open_source as real_open_source
    from handmap.daemon.cli import build_parser
    from handmap.daemon.runtime import assemble
    from handmap.daemon.ui.security import ACCESS_FILE

    trace = idle_trace(tmp_path / "camera.trace.jsonl", seconds=1)
    monkeypatch.setattr(assemble, "open_source", lambda spec, **kw: real_open_source(  # no camera here
        str(trace) if spec == "0" else spec, **kw))
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    fetched = tmp_path / "fetched.txt"
    access_copy = tmp_path / "access.json"
    browser.write_text(
        "#!/bin/sh\n"
        f'echo "$1" >> {opened}\n'
        f'cp "$XDG_RUNTIME_DIR/{ACCESS_FILE}" {access_copy}\n'
        f'{sys.executable} -c "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).status)" '
        f'"$1" > {fetched}\n')
    browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
    env = private_env(tmp_path / "home", desktop)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BROWSER", str(browser))
    monkeypatch.setattr(webbrowser, "_tryorder", None)  # webbrowser reads $BROWSER once per process
    err = io.StringIO()
    handler = logging.StreamHandler(err)
    logging.getLogger("handmap").addHandler(handler)
    try:
        parsed = build_parser().parse_args(["run", "--output", "dry-run", "--no-tray", "--no-alerts", "--no-history"])
        assert parsed.func(parsed) == 0, err.getvalue()
    finally:
        logging.getLogger("handmap").removeHandler(handler)
    lines = opened.read_text().split() if opened.exists() else []
    assert len(lines) == 1, (lines, err.getvalue())  # one window, opened once
    access = json.loads(access_copy.read_text())
    assert lines[0].startswith("http://127.0.0.1:") and lines[0].endswith("/login#" + access["token"]), (lines, access)
    assert fetched.read_text().strip() == "200"  # the address was served while the daemon ran

