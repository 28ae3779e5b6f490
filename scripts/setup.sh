#!/usr/bin/env bash
# Set up handmap in .venv inside this checkout (idempotent: a second run only checks).
#
#   bash scripts/setup.sh            # the daemon and its Python dependencies
#   bash scripts/setup.sh --tests    # ... plus the test dependencies and, when run as
#                                    # root on Debian/Ubuntu, the X11/D-Bus packages the
#                                    # real-desktop tests drive (Xvfb, xdotool, dunst...)
#                                    # and the Wayland compositors the window-watching
#                                    # tests start headless (sway, GNOME Shell, KWin),
#                                    # and chromium for the settings window's tests
#
# Needs Python 3.10, 3.11 or 3.12 with venv, and a C compiler with Python headers
# (pynput's evdev dependency builds from source on Linux).
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[ "${1:-}" = "--tests" ] && want_tests=1

DEBIAN_TEST_PACKAGES="xvfb xdotool x11-utils matchbox-window-manager dbus-daemon dbus-bin dunst libnotify-bin trayer systemd"
# The StatusNotifier watcher the D-Bus tray registers with (status-notifier-watcher), and
# GNOME Shell's AppIndicator extension that shows it in the real GNOME Shell test.
DEBIAN_TEST_PACKAGES="$DEBIAN_TEST_PACKAGES haskell-status-notifier-item-utils gnome-shell-extension-appindicator"
# The real compositors of tests/desktop/test_compositor_*.py, with their clients (foot for
# sway; GTK through PyGObject for GNOME Shell and KWin), gsettings, and python-dbusmock's
# stand-in logind for GNOME Shell. About 175 MB to download, about 2.5 minutes to install here.
DEBIAN_TEST_PACKAGES="$DEBIAN_TEST_PACKAGES sway foot gnome-shell kwin-wayland python3-dbusmock python3-gi gir1.2-gtk-3.0 libglib2.0-bin"

# The settings window's browser tests (tests/desktop/test_ui_*.py): Debian's chromium and
# its WebDriver, driven headless (no browser download).
DEBIAN_TEST_PACKAGES="$DEBIAN_TEST_PACKAGES chromium chromium-driver"

pick_python() {
    for candidate in ${PYTHON:-} python3.12 python3.11 python3.10 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] <= (3, 12)))' 2>/dev/null; then
            echo "$candidate"
            return 0
        fi
    done
    echo "handmap needs Python 3.10 to 3.12 (mediapipe 0.10.21 has no wheel for others); set PYTHON=/path/to/python3.x" >&2
    return 1
}

if [ "$want_tests" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    missing=""
    for pkg in $DEBIAN_TEST_PACKAGES; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
    done
    if [ -n "$missing" ]; then
        echo "handmap setup: installing Debian packages for the real-desktop tests:$missing" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
    fi
fi

if [ ! -x .venv/bin/python ]; then
    python=$(pick_python)
    echo "handmap setup: creating .venv with $python" >&2
    "$python" -m venv .venv
fi

# One stamp per kind of install, holding the digest of what it installed from; the test
# install is a superset of the plain one, so its stamp satisfies `run.sh` too.
stamp=".venv/.handmap-installed"
test_stamp="$stamp[test]"
digest=$(cat pyproject.toml requirements.lock | sha256sum | cut -d' ' -f1)
installed() { [ -f "$1" ] && [ "$(cat "$1")" = "$digest" ]; }
if [ "$want_tests" = 1 ]; then
    installed "$test_stamp" && exit 0
    extras="[test]"
else
    { installed "$stamp" || installed "$test_stamp"; } && exit 0
    extras=""
fi
echo "handmap setup: installing Python dependencies into .venv (pinned by requirements.lock)" >&2
# pip and setuptools' build warnings (dozens of lines, none of them actionable here) are
# shown only when the install fails.
pip_log=$(mktemp)
trap 'rm -f "$pip_log"' EXIT
if ! { .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade "pip>=23" &&
       .venv/bin/python -m pip install -q --disable-pip-version-check -c requirements.lock -e ".$extras"; } >"$pip_log" 2>&1; then
    cat "$pip_log" >&2
    echo "handmap setup: installing the Python dependencies failed (pip's output above)" >&2
    exit 1
fi
echo "$digest" > "$stamp"
[ "$want_tests" = 1 ] && echo "$digest" > "$test_stamp"
exit 0
