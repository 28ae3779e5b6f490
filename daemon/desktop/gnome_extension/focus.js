/* handmap focus: exposes the focused window on the session bus for handmap's per-app
 * profiles. `handmap setup gnome` writes extension.js from three parts: the imports for
 * this GNOME Shell version (header-43.js or header-45.js), this file, and the entry
 * point (footer-43.js or footer-45.js).
 *
 * Bus name org.handmap.Focus, object /org/handmap/Focus, interface org.handmap.Focus1:
 *   GetFocus() -> (app_id s, wm_class s, title s, pid u)
 *   signal FocusChanged(app_id s, wm_class s, title s, pid u)
 * sent when the focused window changes and when the focused window's title changes.
 * Empty strings and pid 0 mean no window has focus.
 */
const BUS_NAME = 'org.handmap.Focus';
const OBJECT_PATH = '/org/handmap/Focus';
const IFACE_XML = `
<node>
  <interface name="org.handmap.Focus1">
    <method name="GetFocus">
      <arg type="s" name="app_id" direction="out"/>
      <arg type="s" name="wm_class" direction="out"/>
      <arg type="s" name="title" direction="out"/>
      <arg type="u" name="pid" direction="out"/>
    </method>
    <signal name="FocusChanged">
      <arg type="s" name="app_id"/>
      <arg type="s" name="wm_class"/>
      <arg type="s" name="title"/>
      <arg type="u" name="pid"/>
    </signal>
  </interface>
</node>`;

function describe(win) {
    if (!win)
        return ['', '', '', 0];
    const app = Shell.WindowTracker.get_default().get_window_app(win);
    let appId = (app && !app.is_window_backed() && app.get_id()) || win.get_gtk_application_id() || '';
    if (appId.endsWith('.desktop'))
        appId = appId.slice(0, -'.desktop'.length);
    const pid = win.get_pid();
    return [appId, win.get_wm_class() || '', win.get_title() || '', pid > 0 ? pid : 0];
}

class FocusService {
    GetFocus() {
        return describe(global.display.focus_window);
    }
}

class FocusExtension {
    enable() {
        this._service = new FocusService();
        this._dbus = Gio.DBusExportedObject.wrapJSObject(IFACE_XML, this._service);
        this._dbus.export(Gio.DBus.session, OBJECT_PATH);
        this._nameId = Gio.bus_own_name_on_connection(Gio.DBus.session, BUS_NAME,
            Gio.BusNameOwnerFlags.NONE, null, null);
        this._window = null;
        this._titleId = 0;
        this._focusId = global.display.connect('notify::focus-window', () => this._focusChanged());
        this._focusChanged();
    }

    disable() {
        global.display.disconnect(this._focusId);
        this._watchTitle(null);
        Gio.bus_unown_name(this._nameId);
        this._dbus.unexport();
        this._dbus = null;
        this._service = null;
    }

    _watchTitle(win) {
        if (this._window && this._titleId)
            this._window.disconnect(this._titleId);
        this._window = win;
        this._titleId = win ? win.connect('notify::title', () => this._emit()) : 0;
    }

    _focusChanged() {
        this._watchTitle(global.display.focus_window);
        this._emit();
    }

    _emit() {
        const [appId, wmClass, title, pid] = describe(global.display.focus_window);
        this._dbus.emit_signal('FocusChanged',
            new GLib.Variant('(sssu)', [appId, wmClass, title, pid]));
    }
}
