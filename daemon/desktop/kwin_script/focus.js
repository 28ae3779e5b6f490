// handmap focus: reports KWin's active window to handmap over the session D-Bus, for its
// per-app profiles (KWin 5.27 and 6). handmap loads this script itself through KWin's
// scripting interface, with __HANDMAP_BUS_NAME__ replaced by its own bus name, and calls
//   Focus(resource_class s, desktop_file s, caption s, pid s)
// on /org/handmap/KWinFocus (org.handmap.KWinFocus1) for each change; all empty means no
// window is active.
const SERVICE = "__HANDMAP_BUS_NAME__";
const PATH = "/org/handmap/KWinFocus";
const IFACE = "org.handmap.KWinFocus1";
let watched = null;

function text(value) {
    if (value === undefined || value === null)
        return "";
    if (typeof value === "string")
        return value;
    if (value instanceof ArrayBuffer)  // KWin 5's QByteArray properties (resourceClass)
        return String.fromCharCode.apply(null, new Uint8Array(value));
    return String(value);
}

function report() {
    const w = watched;
    if (!w) {
        callDBus(SERVICE, PATH, IFACE, "Focus", "", "", "", "");
        return;
    }
    callDBus(SERVICE, PATH, IFACE, "Focus", text(w.resourceClass), text(w.desktopFileName), text(w.caption),
             String(w.pid > 0 ? w.pid : ""));
}

function activated(w) {
    if (watched)
        watched.captionChanged.disconnect(report);
    watched = w || null;
    if (watched)
        watched.captionChanged.connect(report);
    report();
}

(workspace.windowActivated || workspace.clientActivated).connect(activated);
activated(workspace.activeWindow || workspace.activeClient);
