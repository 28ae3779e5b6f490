"""Hostile config.yaml (issue 7): fuzzed and hand-made bad files get one clear,
positioned ``ConfigError`` and never another exception, a hang or a memory blow-up; a
daemon reloading a broken file keeps its last good configuration.

The fuzzers are hypothesis strategies with a fixed ``max_examples``; each prints how
many inputs it tried (``pytest -s``, or ``-rP``) and records it as the junit property
``inputs_tried``. Bomb-sized inputs run in a child process under a memory and time
limit, so a broken guard fails the test instead of taking the test run down.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from pathlib import Path

import pytest
import yaml
from cli import handmap
from fuzzing import EXAMPLES, FUZZ, report, run_in_child, yaml_lines
from hypothesis import given
from hypothesis import strategies as st

from handmap.daemon.config import (
    MAX_CONFIG_BYTES,
    MAX_YAML_DEPTH,
    Config,
    ConfigError,
    load_config,
)
from handmap.daemon.runtime.reload import HotReloader, ReloadMonitor

#: The configuration's own keys, so structured fuzz reaches validation, not just "unknown key".
SECTIONS = {
    "camera": ["index", "width", "height", "fps", "mirror"],
    "model": ["size", "task_file", "max_hands", "min_detection_confidence"],
    "faces": ["enabled", "model", "rate_hz", "body_model"],
    "alerts": ["notify", "cooldown_s", "sound", "muted"],
    "gestures": ["hold_ms", "pinch", "control_point", "hold_durations_ms", "pose_hold_ms"],
    "face_touch": ["dwell_ms", "margin", "vouch_scale"],
}
TOP_KEYS = [*SECTIONS, "output", "profile", "tray", "pause_hotkey"]
LOCATED = re.compile(r"^(?P<file>.+?)(?::(?P<line>\d+):(?P<col>\d+))?: \S")


def billion_laughs(levels: int = 9, fan: int = 9, indent: str = "") -> str:
    lines = [f'{indent}l0: &l0 [{", ".join(["lol"] * fan)}]']
    for i in range(1, levels + 1):
        lines.append(f"{indent}l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fan)}]")
    return "\n".join(lines) + "\n"




@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory(prefix="hm-fuzz-config-") as d:
        yield Path(d)


def check_outcome(path: Path, text_lines: int) -> Config | ConfigError:
    """Load ``path``: a Config, or a ConfigError whose every line is one problem naming
    the file (and a line:col inside it); any other exception fails the test."""
    try:
        return load_config(path)
    except ConfigError as exc:
        for message in str(exc).splitlines():
            assert len(message) < 600, message
            m = LOCATED.match(message)
            assert m and m["file"] == str(path), message
            if m["line"]:
                assert 1 <= int(m["line"]) <= text_lines + 1, message
                assert int(m["col"]) >= 1, message
        return exc


# ----------------------------------------------------------------------------- fuzzers


YAML_TOKENS = ["{", "}", "[", "]", ": ", ":", "- ", ", ", "\n", "  ", "'", '"', "? ", "&a ", "*a", "&b ", "*b",
               "<<: ", "!!python/object/apply:os.system ", "!!python/name:os.system ", "!!binary ", "!!set ",
               "!!str ", "!!int ", "%YAML 1.1\n", "---\n", "...\n", "#", "|\n", ">\n", "~", "1e999", ".nan",
               "-.inf", "0x1F", "12345678901234567890", "yes", "\t", "\x00", "\u00e9", "\U0001f590", *TOP_KEYS,
               "index", "fps", "cooldown_s", "size", "lite"]


#: Raw inputs: arbitrary unicode text, arbitrary bytes, and random sequences of YAML
#: syntax (anchors, aliases, tags, merges, directives).
RAW_INPUTS = {
    "arbitrary unicode text": st.text(max_size=400),
    "arbitrary bytes": st.binary(max_size=400),
    "YAML token soup": st.lists(st.sampled_from(YAML_TOKENS), max_size=60).map("".join),
}


@pytest.mark.parametrize("kind", list(RAW_INPUTS))
def test_fuzz_raw_input(scratch, record_property, kind):
    path = scratch / "raw.yaml"
    tried = 0

    @FUZZ
    @given(RAW_INPUTS[kind])
    def check(content):
        nonlocal tried
        tried += 1
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        check_outcome(path, yaml_lines(content))

    check()
    report(record_property, f"config: {kind}", tried)
    assert tried >= EXAMPLES * 2 // 3


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10 ** 400), max_value=10 ** 400),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["full", "lite", "dry-run", "pynput", "\U0001f590", "../../etc/passwd", "a\x00b", ""]),
)
def containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4))


values = st.recursive(scalars, containers, max_leaves=20)


@st.composite
def config_documents(draw):
    doc = {}
    for key in draw(st.lists(st.sampled_from(TOP_KEYS), unique=True, max_size=5)):
        if key in SECTIONS and draw(st.booleans()):
            doc[key] = {sub: draw(values) for sub in draw(st.lists(st.sampled_from(SECTIONS[key]), unique=True, max_size=4))}
        else:
            doc[key] = draw(values)
    doc.update(draw(st.dictionaries(st.one_of(st.text(max_size=10), st.integers()), values, max_size=2)))
    return doc


def test_fuzz_wrong_types_and_values(scratch, record_property):
    """Well-formed YAML with the configuration's keys and any values: valid ones load
    (and hold what was written), the others name the key and where it is."""
    path = scratch / "typed.yaml"
    tried = accepted = 0

    @FUZZ
    @given(config_documents())
    def check(doc):
        nonlocal tried, accepted
        tried += 1
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        outcome = check_outcome(path, yaml_lines(text))
        if isinstance(outcome, Config):
            accepted += 1
            for section, fields in doc.items():
                if isinstance(fields, dict) and section in ("camera", "model", "faces", "alerts"):
                    for name in fields:
                        got = getattr(getattr(outcome, section), name)
                        if isinstance(got, float):
                            assert math.isfinite(got)

    check()
    report(record_property, f"config: typed documents ({accepted} valid)", tried)
    assert tried >= EXAMPLES * 2 // 3


# ----------------------------------------------------------------------------- explicit cases

def load_in_child(path: Path) -> dict:
    return run_in_child("from handmap.daemon.config import ConfigError, load_config", """
        try:
            load_config(path)
            result = {"outcome": "loaded"}
        except ConfigError as exc:
            result = {"outcome": "ConfigError", "message": str(exc)}
    """, path)


BOMBS = {
    # 9 ** 10 lols once expanded: safe_load shares them, but merging, validation and
    # error messages that walk the value would not.
    "billion_laughs_in_gestures": "gestures:\n" + billion_laughs(indent="  "),
    "billion_laughs_as_a_wrong_type": "gestures:\n" + billion_laughs(indent="  ") + "camera: {index: *l9}\n",
    "billion_laughs_at_top_level": billion_laughs(),
    "merge_key_bomb": "gestures:\n" + "".join(
        f"  m{i}: &m{i} {{<<: *m{i - 1}, k{i}: [*m{i - 1}, *m{i - 1}, *m{i - 1}, *m{i - 1}]}}\n" if i else
        "  m0: &m0 {k: [lol, lol, lol, lol, lol, lol, lol, lol]}\n" for i in range(12)),
    "deep_flow_sequences_10k": "gestures: {x: " + "[" * 10_000 + "]" * 10_000 + "}\n",
    "deep_flow_mappings_10k": "gestures: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n",
    "deep_block_sequences_10k": "- " * 10_000 + "leaf\n",
    "deep_through_an_alias": "gestures:\n  a: &a " + "[" * 40 + "]" * 40 + "\n  b: " + "[" * 40 + "*a" + "]" * 40 + "\n",
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_yaml_bombs_and_deep_nesting_are_refused_quickly(scratch, name):
    path = scratch / f"{name}.yaml"
    path.write_text(BOMBS[name], encoding="utf-8")
    result = load_in_child(path)
    assert result["outcome"] == "ConfigError", result
    assert result["message"].startswith(f"{path}:"), result
    assert re.search(r"too many values|nested too deeply", result["message"]), result
    assert result["seconds"] < 20, result  # measured: well under a second; a bomb takes hours


def test_depth_limit_names_the_line_and_column(scratch):
    path = scratch / "deep.yaml"
    path.write_text("camera:\n  index: 0\ngestures:\n  x: " + "[" * 500 + "]" * 500 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert re.fullmatch(rf"{re.escape(str(path))}:4:\d+: nested too deeply \(more than {MAX_YAML_DEPTH} levels, aliases included\)",
                        str(err.value))


def test_anchors_and_aliases_of_ordinary_size_still_work(scratch):
    path = scratch / "anchors.yaml"
    path.write_text("camera: {width: &side 640, height: *side}\ngestures: {hold_ms: &ms 300}\n"
                    "face_touch: {dwell_ms: *ms}\n", encoding="utf-8")
    config = load_config(path)
    assert (config.camera.width, config.camera.height) == (640, 640)
    assert (config.gestures.hold_ms, config.face_touch.dwell_ms) == (300, 300)


def test_huge_file_is_refused_by_size_before_parsing(scratch):
    path = scratch / "huge.yaml"
    with open(path, "wb") as f:  # 50 MB (sparse: the size is what is checked first)
        f.write(b"camera:\n  index: 0\n")
        f.truncate(50 * 1024 * 1024)
    result = load_in_child(path)
    assert result["outcome"] == "ConfigError", result
    assert result["message"] == (f"{path}: the file is {50 * 1024 * 1024} bytes; a configuration file is at most "
                                 f"{MAX_CONFIG_BYTES} bytes (is it the right file?)")
    assert result["seconds"] < 5, result


def test_just_under_the_size_limit_is_parsed(scratch):
    path = scratch / "big-comment.yaml"
    path.write_text("profile: games\n" + "#" + "x" * (MAX_CONFIG_BYTES - 100) + "\n", encoding="utf-8")
    assert load_config(path).profile == "games"


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_not_a_regular_file(scratch, kind):
    path = {"fifo": scratch / "fifo.yaml", "device": Path("/dev/zero"), "folder": scratch}[kind]
    if kind == "fifo" and not path.exists():
        os.mkfifo(path)  # opening a FIFO without a writer would block a naive reader forever
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}: ")
    assert "not a regular file" in str(err.value) or "is a folder" in str(err.value)


@pytest.mark.parametrize("tag", [
    '!!python/object/apply:os.system ["touch {marker}"]',
    "!!python/object/new:os.system [\"touch {marker}\"]",
    "!!python/name:os.system",
    "!!python/module:os",
    '!!python/object:__main__.Foo {{x: 1}}',
])
def test_python_tags_are_refused_and_run_nothing(scratch, tag):
    marker = scratch / "pwned"
    path = scratch / "tagged.yaml"
    path.write_text("gestures:\n  x: " + tag.format(marker=marker) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert message.startswith(f"{path}:2:6: "), message
    assert ("not valid YAML: could not determine a constructor for the tag" in message  # on a value
            or re.search(r"tag '.*python/object.*' is not allowed here", message)), message  # on a list or mapping
    assert not marker.exists()


@pytest.mark.parametrize("value, expected", [
    ("!!int ''", "'' is not a valid int"),
    ("!!float '.'", "'.' is not a valid float"),
    ("!!bool maybe", "'maybe' is not a valid bool"),
    ("!!timestamp someday", "'someday' is not a valid timestamp"),
    ("2024-13-45", "'2024-13-45' is not a valid timestamp: month must be in 1..12"),
    ("9" * 5000, "is not a valid int: Exceeds the limit (4300 digits)"),
])
def test_scalars_the_safe_constructor_cannot_build(scratch, value, expected):
    """PyYAML's safe constructor raises IndexError/KeyError/ValueError for these."""
    path = scratch / "scalar.yaml"
    path.write_text(f"camera: {{index: 1}}\ngestures:\n  x: {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}:3:6: not valid YAML: ") and expected in str(err.value)


def test_invalid_utf8_is_located(scratch):
    path = scratch / "latin1.yaml"
    path.write_bytes(b"camera:\n  index: 0\nprofile: caf\xe9\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}:3:13: not UTF-8 text (byte 0xe9); save the file as UTF-8"


def test_nul_byte_is_located(scratch):
    path = scratch / "nul.yaml"
    path.write_bytes(b"camera:\n  index: 0\x00\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == f"{path}:2:11: not valid YAML: control character #x0000 is not allowed in YAML"


@pytest.mark.parametrize("text, expected", [
    # unknown keys are located at the key (as in profiles), with the closest known key
    ("\U0001f590: 1\n", r":1:1: unknown key '\U0001f590' in config$"),
    ("camera:\n  \u00efndex: 1\n", r":2:3: unknown key '\u00efndex' in camera; did you mean 'index'\?"),
    ('"two\\nlines\\u0000": 1\n', r":1:1: unknown key 'two\\nlines\\x00' in config"),  # escaped: one line
    ('"' + "k" * 500 + '": 1\n', r":1:\d+: unknown key 'k{70,77}\.\.\.' "),
    ("camera: big\n", r":1:9: camera: input should be a valid dictionary or instance of CameraConfig \(got 'big'\)"),
    ("camera: {index: zero}\n", r":1:17: camera.index: input should be a valid integer.* \(got 'zero'\)"),
    ("camera: {fps: .inf}\n", r":1:15: camera.fps: Input should be a finite number"),
    ("alerts: {cooldown_s: .nan}\n", r":1:22: alerts.cooldown_s: Input should be a finite number"),
    ("model: {max_hands: 99999999999999999999999}\n", r":1:20: model.max_hands: Input should be less than or equal to 4"),
    ("profile: []\n", r":1:10: profile: input should be a valid string \(got a list\)"),
    ("output: \"\U0001f590\"\n", r":1:9: output: unknown value '\U0001f590'; expected 'auto'"),
    # the gestures and face_touch sections are typed like the rest
    ("gestures:\n  hold_time: 100\n", r":2:3: unknown key 'hold_time' in gestures; did you mean 'hold_ms'\?"),
    ("gestures:\n  grace_ms: long\n", r":2:13: gestures.grace_ms: input should be a valid number \(got 'long'\)"),
    ("gestures:\n  control_point: thumb\n", r":2:18: gestures.control_point: unknown value 'thumb'; expected 'palm'"),
    ("gestures:\n  pinch_enter: 0.5\n", r":2:3: gestures: gesture setting pinch_enter \(0.5\) must be below pinch_exit"),
    ("face_touch:\n  dwell: 5\n", r":2:3: unknown key 'dwell' in face_touch; did you mean 'dwell_ms'\?"),
    ("face_touch:\n  vouch_scale: [1, 2, 3]\n", r":2:16: face_touch.vouch_scale: List should have at most 2 items"),
    ("- camera\n", r":1:1: the configuration must be a mapping of keys to values, not list"),
    ("camera: {index: 1}\ncamera: {index: 2}\n", None),  # PyYAML keeps the last; accepted
    ("gestures: {hold_ms: " + "x" * 5000 + "}\ncamera: {index: " + "y" * 5000 + "}\n",
     r":1:\d+: gestures.hold_ms: input should be a valid number \(got 'x{20,}\.\.\.x+'\)$"),  # shortened
])
def test_wrong_types_and_unicode_keys_get_positioned_messages(scratch, text, expected):
    path = scratch / "typed-case.yaml"
    path.write_text(text, encoding="utf-8")
    if expected is None:
        assert load_config(path).camera.index == 2
        return
    with pytest.raises(ConfigError) as err:
        load_config(path)
    lines = str(err.value).splitlines()  # every problem, one a line
    assert all(line.startswith(str(path)) and len(line) < 300 for line in lines), lines
    assert re.match(re.escape(str(path)) + expected, lines[0]), lines


# ----------------------------------------------------------------------------- last good state


def test_reloading_a_hostile_config_keeps_the_last_good_one(scratch):
    """The daemon's HotReloader with the real load_config as validator: a good edit is
    applied; a bomb, a deep file, a 50 MB file and garbage bytes are each rejected with
    one positioned problem, and the last good configuration stays in force."""
    folder = scratch / "reload"
    folder.mkdir()
    path = folder / "config.yaml"
    applied: list[Config] = []
    reloader = HotReloader(ReloadMonitor([folder]), load_config,
                           lambda paths: applied.append(load_config(path)))
    path.write_text("camera: {index: 3}\n", encoding="utf-8")
    assert reloader.process([path]).applied == {path}
    assert applied[-1].camera.index == 3
    hostile = {
        "bomb": ("gestures:\n" + billion_laughs(indent="  ")).encode(),
        "deep": ("gestures: " + "[" * 10_000 + "]" * 10_000).encode(),
        "garbage": bytes(range(256)) * 4,
    }
    for name, raw in hostile.items():
        path.write_bytes(raw)
        result = reloader.process([path])
        assert not result.applied, name
        (problem,) = result.rejected[path]
        assert problem.path == path and problem.message, (name, problem)
    with open(path, "wb") as f:
        f.truncate(50 * 1024 * 1024)
    assert "bytes; a configuration file is at most" in str(reloader.process([path]).rejected[path][0])
    assert len(applied) == 1 and applied[-1].camera.index == 3
    path.write_text("camera: {index: 4}\n", encoding="utf-8")
    assert reloader.process([path]).applied == {path} and applied[-1].camera.index == 4


def test_handmap_run_with_a_hostile_config_says_so_in_one_line(scratch):
    """The real command line: a bomb passed with --config stops `handmap run` before it
    starts, with one positioned line on stderr and no traceback."""
    folder = scratch / "cli"
    folder.mkdir(mode=0o700)
    bomb = folder / "config.yaml"
    bomb.write_text("gestures:\n" + billion_laughs(indent="  "), encoding="utf-8")
    trace = folder / "empty.jsonl"
    trace.write_text('{"format":"handmap-trace","version":1}\n', encoding="utf-8")
    result = handmap("run", "--config", str(bomb), "--source", str(trace), "--output", "dry-run", "--no-tray",
                     env={"XDG_RUNTIME_DIR": str(folder), "XDG_CONFIG_HOME": str(folder / "xdg")}, timeout=120)
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("handmap: error:")]
    assert len(errors) == 1 and errors[0].startswith(f"handmap: error: {bomb}:") and "too many values" in errors[0]
