
export default class HandmapFocusExtension extends Extension {
    enable() {
        this._focus = new FocusExtension();
        this._focus.enable();
    }

    disable() {
        this._focus.disable();
        this._focus = null;
    }
}
