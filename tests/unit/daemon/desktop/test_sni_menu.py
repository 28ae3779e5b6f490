"""The StatusNotifier tray's menu and picture, as a panel reads them (no bus needed)."""

from __future__ import annotations

from handmap.daemon.desktop.sni import (
    ICON_SIZES,
    MenuId,
    Toggle,
    all_entries,
    find_entry,
    icon_pixmaps,
    layout,
    menu_entries,
)
from handmap.daemon.desktop.tray import ICON_MARGIN, ICON_SIZE, STATE_COLOURS
from handmap.daemon.runtime.state import DaemonState, StatusSnapshot


def snapshot(**changes) -> StatusSnapshot:
    base = dict(state=DaemonState.RUNNING, profile="desktop", fps=30.0, hands_seen=1, output="dry-run",
                uptime_s=5.0, face_touches_today=3, profiles=("desktop", "game"))
    return StatusSnapshot(**{**base, **changes})  # type: ignore[arg-type]


def labels(root) -> list[str]:
    return [e.label for e in all_entries(root) if e.label]


def test_the_menu_has_the_xembed_trays_items_with_the_active_profile_checked():
    root = menu_entries(snapshot(), ())
    assert labels(root) == ["handmap: running", "Profile: desktop", "Profiles", "desktop", "game", "Pause",
                            "Mute alerts", "Face touches today: 3", "Settings...", "Quit"]
    profiles = find_entry(root, MenuId.PROFILES)
    assert profiles is not None
    assert [(e.label, e.toggle, e.checked) for e in profiles.children] == [
        ("desktop", Toggle.RADIO, True), ("game", Toggle.RADIO, False)]
    assert [e.id for e in root.children if e.separator] == [MenuId.SEPARATOR_TOP, MenuId.SEPARATOR_BOTTOM]


def test_paused_and_muted_read_resume_and_a_checked_mute():
    root = menu_entries(snapshot(state=DaemonState.PAUSED, alerts_muted=True), ())
    pause, mute = find_entry(root, MenuId.PAUSE), find_entry(root, MenuId.MUTE)
    assert pause is not None and pause.label == "Resume"
    assert mute is not None and mute.checked
    assert "handmap: paused" in labels(root)


def test_no_profiles_reads_so_and_cannot_be_clicked():
    root = menu_entries(snapshot(profiles=()), ())
    profiles = find_entry(root, MenuId.PROFILES)
    assert profiles is not None
    assert [(e.label, e.enabled) for e in profiles.children] == [("(no profiles)", False)]


def test_layout_depth_and_property_filter_follow_dbusmenu():
    root = menu_entries(snapshot(), ())
    entry_id, props, children = layout(root, 1)
    assert entry_id == MenuId.ROOT and props["children-display"].value == "submenu"
    submenu = next(c.value for c in children if c.value[0] == MenuId.PROFILES)
    assert submenu[2] == []  # depth 1: the profiles' own children are left out
    _, only_labels, _ = layout(find_entry(root, MenuId.MUTE), 0, ["label"])
    assert set(only_labels) == {"label"}


def test_icon_is_argb_in_network_byte_order_at_each_size():
    pixmaps = icon_pixmaps(DaemonState.RUNNING, False)
    assert [(w, h) for w, h, _ in pixmaps] == [(s, s) for s in ICON_SIZES]
    size, _, data = pixmaps[-1]
    corner = data[0:4]
    assert corner[0] == 0  # alpha first: the corner is outside the disc
    y, x = ICON_MARGIN * size // ICON_SIZE + 3, size // 2  # on the disc, above the glyph
    offset = 4 * (y * size + x)
    assert tuple(data[offset:offset + 4]) == (255, *STATE_COLOURS[DaemonState.RUNNING])


def test_a_pause_changes_properties_only_and_a_new_profile_changes_the_layout():
    from handmap.daemon.desktop.sni import menu_shape, property_changes

    running, paused = menu_entries(snapshot(), ()), menu_entries(snapshot(state=DaemonState.PAUSED), ())
    assert menu_shape(running) == menu_shape(paused)
    updated, removed = property_changes(running, paused)
    changed = {entry_id: {k: v.value for k, v in props.items()} for entry_id, props in updated}
    assert changed == {MenuId.STATE: {"label": "handmap: paused"}, MenuId.PAUSE: {"label": "Resume"}}
    assert removed == []
    more = menu_entries(snapshot(profiles=("desktop", "game", "slides")), ())
    assert menu_shape(more) != menu_shape(running)
    assert property_changes(running, more) == ([], [])
