// GNOME Shell 43 and 44: the legacy imports.
const { Gio, GLib, Shell } = imports.gi;

