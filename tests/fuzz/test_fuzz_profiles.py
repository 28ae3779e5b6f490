"""Hostile profile files (issue 7): whatever a profile file holds, validation returns
positioned ``ProfileError``s (``file:line:col: message``) or loads it; it never raises
anything else, hangs or blows up memory; ``extends`` and profile names never reach a
file outside the profile folders; no profile can run a program.

The fuzzers are hypothesis strategies with a fixed ``max_examples``
(``HANDMAP_FUZZ_EXAMPLES`` raises it); each prints how many inputs it tried (``pytest
-s`` or ``-rP``) and records it as the junit property ``inputs_tried``. Bomb-sized
inputs run in a child process under a memory and time limit.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import yaml
from cli import handmap
from fuzzing import EXAMPLES, FUZZ, report, run_in_child, yaml_lines
from hypothesis import given
from hypothesis import strategies as st

from handmap.daemon.runtime.reload import HotReloader, ReloadMonitor
from handmap.mappings import schema
from handmap.mappings.loader import MAX_EXTENDS_DEPTH, MAX_PROFILE_BYTES, ProfileError, ProfileStore
from handmap.mappings.yamlpos import MAX_DEPTH


@pytest.fixture(scope="module")
def scratch():
    with tempfile.TemporaryDirectory(prefix="hm-fuzz-profiles-") as d:
        root = Path(d)
        (root / "user").mkdir()
        (root / "files").mkdir()
        yield root


def check_file(store: ProfileStore, path: Path, text_lines: int) -> list[ProfileError]:
    """validate_file's contract: a list of errors, each in a file, at a real line."""
    errors = store.validate_file(path)
    assert isinstance(errors, list)
    for e in errors:
        assert isinstance(e, ProfileError)
        assert e.file == str(path), e  # a fuzzed file extends only bundled profiles, which are valid
        assert 1 <= e.line <= text_lines + 1 and e.column >= 1, e
        assert e.message and len(str(e)) < 2000, e
    return errors


# ----------------------------------------------------------------------------- fuzzers


def test_fuzz_arbitrary_text_and_bytes(scratch, record_property):
    store = ProfileStore(scratch / "user")
    path = scratch / "files" / "fuzzed.yaml"
    tried = 0

    @FUZZ
    @given(st.one_of(st.text(max_size=400).map(lambda t: t.encode("utf-8")), st.binary(max_size=400)))
    def check(raw):
        nonlocal tried
        tried += 1
        path.write_bytes(raw)
        check_file(store, path, yaml_lines(raw))

    check()
    report(record_property, "profiles: arbitrary text and bytes", tried)
    assert tried >= EXAMPLES * 2 // 3


PROFILE_KEYS = ["version", "name", "extends", "description", "match", "alerts", "poses", "pointer", "bindings"]
YAML_TOKENS = ["{", "}", "[", "]", ": ", "- ", ", ", "\n", "  ", "'", '"', "? ", "&a ", "*a", "<<: ", "~",
               "!!python/object/apply:os.system ", "!!python/name:os.system ", "!!set ", "!!int ", "!!binary ",
               "---\n", "%YAML 1.1\n", "#", "|\n", "1e999", ".nan", "99999999999999999999", "\t", "\U0001f590",
               *PROFILE_KEYS, "version: 1\n", "extends: desktop\n", "enter", "held", "ms", "do", "click", "key",
               "scroll", "dy", "type", "pinch", "closed", "profile", "desktop", "../../etc/passwd"]


def test_fuzz_yaml_token_soup(scratch, record_property):
    store = ProfileStore(scratch / "user")
    path = scratch / "files" / "soup.yaml"
    tried = 0

    @FUZZ
    @given(st.lists(st.sampled_from(YAML_TOKENS), max_size=60).map("".join))
    def check(text):
        nonlocal tried
        tried += 1
        path.write_text(text, encoding="utf-8")
        check_file(store, path, yaml_lines(text))

    check()
    report(record_property, "profiles: YAML token soup", tried)
    assert tried >= EXAMPLES * 2 // 3


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(10 ** 30), 10 ** 30), st.floats(), st.text(max_size=20),
    st.sampled_from(["pinch", "closed", "open", "point", "click", "right_click", "ctrl+c", "desktop", "any", "left",
                     "../../etc/passwd", "/etc/passwd", "\U0001f590", "a\x00b", "(a+)+$", ""]))
def containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4))


values = st.recursive(scalars, containers, max_leaves=20)
actions = st.one_of(
    st.sampled_from(["click", "right_click", "mouse_down", "pause", "drag_scroll", "exec", "run", "shell"]),
    st.fixed_dictionaries({}, optional={k: values for k in ["click", "key", "hold", "scroll", "type", "profile",
                                                            "move", "exec", "command", "file", "sticky"]}))
bindings = st.fixed_dictionaries({}, optional={
    "enter": st.one_of(values, st.sampled_from(["pinch", "closed"])), "held": values, "ms": values,
    "exit": values, "swipe": values, "face_touch": values, "hand": values,
    "do": st.one_of(actions, st.lists(actions, max_size=3))})
profiles = st.fixed_dictionaries({"version": st.one_of(st.just(1), values)}, optional={
    "name": st.one_of(st.just("fuzzed"), values), "extends": st.one_of(st.sampled_from(["desktop", "presenter"]), values),
    "description": values, "match": values, "alerts": values, "poses": values,
    "pointer": st.one_of(values, st.fixed_dictionaries({}, optional={k: values for k in ["mode", "hand", "relative",
                                                                                         "joystick", "clutch"]})),
    "bindings": st.lists(bindings, max_size=4)})


def test_fuzz_structured_profiles(scratch, record_property):
    """Well-formed YAML shaped like a profile (real keys, real action names, any values)."""
    store = ProfileStore(scratch / "user")
    path = scratch / "files" / "fuzzed.yaml"
    tried = valid = 0

    @FUZZ
    @given(profiles)
    def check(doc):
        nonlocal tried, valid
        tried += 1
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
        path.write_text(text, encoding="utf-8")
        errors = check_file(store, path, yaml_lines(text))
        if not errors:
            valid += 1
            profile = store.load_file(path)
            for binding in profile.bindings:  # nothing a profile can ask for runs a program
                for action in binding.do:
                    assert type(action).__name__ in ACTION_MODEL_NAMES

    check()
    report(record_property, f"profiles: structured documents ({valid} valid)", tried)
    assert tried >= EXAMPLES * 2 // 3


ACTION_MODEL_NAMES = {m.__name__ for m in schema._ACTION_MODELS.values()}


def test_fuzz_profile_names_never_leave_the_profile_folders(scratch, record_property):
    """Any name asked of the store (CLI --profile, window rules, the control socket)
    either is a profile in the user or bundled folder or is unknown; a planted file
    outside them is never read."""
    root = scratch / "names"
    user = root / "config" / "handmap" / "profiles"
    user.mkdir(parents=True)
    (user / "mine.yaml").write_text("version: 1\n", encoding="utf-8")
    secret = root / "secret.yaml"
    secret.write_text("version: 1\nname: secret\n", encoding="utf-8")
    os.chmod(secret, 0)  # reading it would fail loudly (root ignores this; the name check is what refuses)
    store = ProfileStore(user)
    tried = 0

    @FUZZ
    @given(st.one_of(
        st.text(max_size=30),
        st.sampled_from(["../../secret", str(root / "secret"), "../../../names/secret", "./mine", "mine/",
                         "mine.yaml", "MINE", "/etc/passwd", "..", ".", "", "desktop/../mine", "mine\x00",
                         "desktop\n"])))
    def check(name):
        nonlocal tried
        tried += 1
        try:
            profile = store.load(name)
        except KeyError as exc:
            assert "no profile named" in str(exc)
            return
        assert name in ("mine", *store.bundled_names()) and profile.name == name

    check()
    report(record_property, "profiles: names asked of the store", tried)
    assert tried >= EXAMPLES * 2 // 3


# ----------------------------------------------------------------------------- explicit cases

def validate_in_child(path: Path) -> dict:
    return run_in_child("from handmap.mappings.loader import ProfileStore", """
        errors = [str(e) for e in ProfileStore(None).validate_file(path)]
        result = {"outcome": "errors", "errors": errors}
    """, path)


def laughs(levels: int = 9) -> str:
    lines = ['  l0: &l0 {fingers: {index: extended}, pinch_above: 0.1}']
    for i in range(1, levels + 1):
        lines.append(f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


BOMBS = {
    "billion_laughs_in_poses": "version: 1\nposes:\n" + laughs(),
    "billion_laughs_in_bindings": "version: 1\nx: &b0 [click, click, click, click, click, click, click, click]\n"
                                  + "".join(f"x{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 8)}]\n" for i in range(1, 10))
                                  + "bindings:\n  - {enter: pinch, do: *b9}\n",
    "deep_flow_10k": "version: 1\nposes: " + "[" * 10_000 + "]" * 10_000 + "\n",
    "deep_mappings_10k": "version: 1\npointer: " + "{a: " * 10_000 + "1" + "}" * 10_000 + "\n",
    "deep_block_10k": "- " * 10_000 + "x\n",
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_yaml_bombs_and_deep_nesting_are_refused_quickly(scratch, name):
    path = scratch / "files" / f"{name}.yaml"
    path.write_text(BOMBS[name], encoding="utf-8")
    result = validate_in_child(path)
    assert result["outcome"] == "errors", result
    (error,) = result["errors"]
    assert error.startswith(f"{path}:") and ("too many values" in error or "nested too deeply" in error), result
    assert result["seconds"] < 20, result  # measured: well under a second; the bomb took minutes and GBs


def test_depth_limit_is_located(scratch):
    path = scratch / "files" / "deep.yaml"
    path.write_text("version: 1\nbindings:\n  - enter: pinch\n    do: " + "[" * 200 + "]" * 200 + "\n", encoding="utf-8")
    (error,) = ProfileStore(None).validate_file(path)
    assert (error.line, error.message) == (4, f"nested too deeply (more than {MAX_DEPTH} levels, aliases included)")


def test_huge_profile_is_refused_before_parsing(scratch):
    path = scratch / "files" / "huge.yaml"
    with open(path, "wb") as f:  # 50 MB, sparse
        f.write(b"version: 1\n")
        f.truncate(50 * 1024 * 1024)
    result = validate_in_child(path)
    assert result["errors"] == [f"{path}:1:1: the file is over {MAX_PROFILE_BYTES} bytes; a profile is a few KB "
                                "(is it the right file?)"], result
    assert result["seconds"] < 5, result


@pytest.mark.parametrize("tagged", [
    'poses: !!python/object/apply:os.system ["touch {marker}"]',
    'bindings: !!python/object/new:subprocess.Popen [["touch", "{marker}"]]',
    "description: !!python/name:os.system",
    "description: !!python/object/apply:os.system [\"touch {marker}\"]",
    'pointer: !!python/object:__main__.X {{mode: none}}',
    "bindings: !!set {{a: null}}",
])
def test_python_tags_are_refused_and_run_nothing(scratch, tagged):
    marker = scratch / "pwned"
    path = scratch / "files" / "tagged.yaml"
    path.write_text("version: 1\n" + tagged.format(marker=marker) + "\n", encoding="utf-8")
    (error,) = ProfileStore(None).validate_file(path)
    assert (error.line, error.column) == (2, tagged.index(":") + 3), error
    assert "could not determine a constructor" in error.message or "is not allowed here" in error.message, error
    assert not marker.exists()


@pytest.mark.parametrize("raw, line, column, text", [
    (b"version: 1\ndescription: caf\xe9\n", 2, 17, "not UTF-8 text (byte 0xe9)"),
    (b"version: 1\ndescription: a\x00b\n", 2, 15, "control character #x0000 is not allowed"),
    (b"version: 1\nbindings:\n  - {enter: pinch, do: {key: !!int ''}}\n", 3, 30, "'' is not a valid int"),
    (b"version: 1\ndescription: 2024-13-45\n", 2, 14, "is not a valid timestamp: month must be in 1..12"),
    ("version: 1\n\U0001f590: click\n".encode(), 2, 1, "unknown key '\U0001f590'"),
    (b"version: 1\nbindings:\n  - {enter: pinch, do: {scroll: {dy: 1000000000}}}\n", 3, 38,
     "less than or equal to 100"),
    (b"version: 1\npointer: {mode: relative, relative: {gain: .inf}}\n", 2, 44, "finite number"),
    (b"version: 1\nbindings:\n  - {enter: pinch, do: {type: " + b"x" * 5000 + b"}}\n", 3, 31, "at most 1000 characters"),
    (b"version: 1\nbindings:\n  - {enter: pinch, do: {exec: 'rm -rf ~'}}\n", 3, 24, "unknown action 'exec'"),
    (b"version: 1\nbindings:\n  - {enter: pinch, do: {command: 'touch x', file: /etc/passwd}}\n", 3, 24,
     "unknown action"),
    (b"version: 1\nextends: ../../etc/passwd\n", 2, 10, "is not a valid name"),
    (b"version: 1\nextends: /etc/passwd\n", 2, 10, "is not a valid name"),
    (b"version: 1\nbindings:\n  - {enter: pinch, do: {profile: ../../etc/passwd}}\n", 3, 34, "is not a valid name"),
])
def test_hostile_values_get_positioned_errors(scratch, raw, line, column, text):
    path = scratch / "files" / "case.yaml"
    path.write_bytes(raw)
    errors = ProfileStore(None).validate_file(path)
    assert errors, raw
    assert (errors[0].file, errors[0].line, errors[0].column) == (str(path), line, column), errors
    assert text in errors[0].message, errors


def test_extends_reads_nothing_outside_the_profile_folders(scratch):
    """A user profile that ``extends`` a path is refused by name; the planted file next
    to it is never loaded, even when it is a valid profile."""
    user = scratch / "extends-user"
    user.mkdir()
    (scratch / "outside.yaml").write_text("version: 1\nbindings: [{enter: pinch, do: {type: secret}}]\n")
    (user / "mine.yaml").write_text("version: 1\nextends: ../outside\n", encoding="utf-8")
    store = ProfileStore(user)
    (error,) = store.validate_file(user / "mine.yaml")
    assert (error.line, error.column) == (2, 10) and "'../outside' is not a valid name" in error.message
    with pytest.raises(KeyError, match="no profile named '../outside'"):
        store.load("../outside")


def test_long_extends_chain_is_bounded(scratch):
    user = scratch / "chain"
    user.mkdir()
    for i in range(200):
        (user / f"p{i}.yaml").write_text(f"version: 1\nextends: p{i + 1}\n", encoding="utf-8")
    (user / "p200.yaml").write_text("version: 1\n", encoding="utf-8")
    errors = ProfileStore(user).validate_file(user / "p0.yaml")
    assert [e.message for e in errors] == [f"extends chain longer than {MAX_EXTENDS_DEPTH} profiles"]
    assert ProfileStore(user).load("p190").name == "p190"  # ten levels are fine


def test_fifo_and_folder_are_refused(scratch):
    fifo = scratch / "files" / "fifo.yaml"
    os.mkfifo(fifo)  # a naive read would block forever
    store = ProfileStore(None)
    assert [e.message for e in store.validate_file(fifo)] == ["not a regular file; a profile is a YAML file"]
    assert [e.message for e in store.validate_file(scratch / "files")] == ["is a folder; a profile is a YAML file"]


def test_profiles_validate_cli_on_hostile_files(scratch):
    """`handmap profiles validate` over a bomb, a binary file and invalid UTF-8: one
    positioned line each, exit status 1, no traceback."""
    folder = scratch / "cli"
    folder.mkdir()
    bomb, binary, latin = folder / "bomb.yaml", folder / "binary.yaml", folder / "latin.yaml"
    bomb.write_text(BOMBS["billion_laughs_in_poses"], encoding="utf-8")
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    latin.write_bytes(b"version: 1\ndescription: caf\xe9\n")
    result = handmap("profiles", "validate", str(bomb), str(binary), str(latin),
                     env={"XDG_CONFIG_HOME": str(folder / "config")}, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    output = result.stdout + result.stderr
    for path in (bomb, binary, latin):
        assert f"{path}:" in output, output


def test_reloading_a_hostile_profile_keeps_the_last_good_one(scratch):
    """The daemon's HotReloader with the real ProfileStore: a good edit of the user's
    profile applies; a bomb, a deep file, binary garbage and a 50 MB file are each
    rejected with positioned problems, and the last good profile stays loaded."""
    user = scratch / "reload-user"
    user.mkdir()
    path = user / "mine.yaml"
    store = ProfileStore(user)
    loaded = []
    reloader = HotReloader(ReloadMonitor([user]), store.validate_file, lambda paths: loaded.append(store.load("mine")))
    path.write_text("version: 1\nextends: desktop\ndescription: first\n", encoding="utf-8")
    assert reloader.process([path]).applied == {path} and loaded[-1].description == "first"
    for raw in (BOMBS["billion_laughs_in_poses"].encode(), BOMBS["deep_flow_10k"].encode(), bytes(range(256)) * 8):
        path.write_bytes(raw)
        result = reloader.process([path])
        assert not result.applied and result.rejected[path], raw[:40]
        assert all(p.line is not None and p.line >= 1 for p in result.rejected[path])
    with open(path, "wb") as f:
        f.truncate(50 * 1024 * 1024)
    assert "a profile is a few KB" in str(reloader.process([path]).rejected[path][0])
    assert len(loaded) == 1 and loaded[-1].description == "first"
