
function init() {
    return new FocusExtension();
}
