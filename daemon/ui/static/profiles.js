// The profiles page: list, create from a bundled template, edit with forms or as YAML.
"use strict";
const TRIGGERS = [["enter", "pose starts"], ["exit", "pose ends"], ["held", "pose held"], ["swipe", "swipe"],
  ["face_touch", "face touch"]];
const HANDS = ["any", "left", "right", "both"];
const ACTIONS = [["click", "click (button)"], ["double_click", "double click (button)"],
  ["mouse_down", "press button"], ["mouse_up", "release button"], ["key", "key or combo"],
  ["hold", "hold key"], ["release", "release key"], ["type", "type text"], ["scroll", "scroll steps (+ up)"],
  ["profile", "switch profile"], ["pause", "pause"], ["resume", "resume"], ["toggle_pause", "toggle pause"]];
let current = null;  // the open profile's answer
let bindings = [];
const $ = (id) => document.getElementById(id);

function options(select, pairs, value) {
  select.replaceChildren(...pairs.map(([v, t]) => handmap.el("option", {value: v, text: t})));
  if (value !== undefined) select.value = value;
}

async function loadList(select) {
  const data = await handmap.call("GET", "/api/profiles");
  options($("pick"), data.profiles.map((p) => [p.name,
    `${p.name} (${p.origin === "user" ? "yours" : "bundled"}${p.broken ? ", has errors" : ""}${p.name === data.active ? ", active" : ""})`]),
    select || (current ? current.name : data.active));
  options($("new-template"), [["", "(empty)"], ...data.templates.map((t) => [t, t])], "desktop");
  $("poses").replaceChildren(...data.poses.map((p) => handmap.el("option", {value: p})));
}

function clearErrors() {
  document.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
  document.querySelectorAll(".field-error").forEach((n) => n.remove());
  $("yaml-errors").replaceChildren();
  $("new-errors").textContent = "";
}

function showErrors(errors, where) {
  for (const e of errors) {
    if (e.field !== "yaml") {
      const input = (where || document).querySelector(`[data-field="${e.field}"]`);
      if (input) {
        input.setAttribute("aria-invalid", "true");
        const id = "err-" + e.field.replace(/\./g, "-");
        const note = handmap.el("span", {class: "error field-error", id, role: "alert", text: e.message});
        input.setAttribute("aria-describedby", id);
        input.closest(".field").append(note);
      }
    }
    $("yaml-errors").append(handmap.el("li", {text: e.where}));
  }
}

function bindingRow(b, i) {
  const f = (name) => `bindings.${i}.${name}`;
  const field = (label, control) => {
    control.id = `b${i}-${label.toLowerCase().replace(/\W+/g, "-")}`;
    return handmap.el("div", {class: "field"}, handmap.el("label", {for: control.id, text: label}), control);
  };
  const trigger = handmap.el("select", {"data-field": f("trigger")});
  options(trigger, TRIGGERS, b.trigger);
  const pose = handmap.el("input", {"data-field": f("pose"), list: "poses", value: b.pose, autocomplete: "off"});
  const ms = handmap.el("input", {"data-field": f("ms"), type: "number", min: "1", step: "100",
    value: b.ms === null || b.ms === undefined ? "" : b.ms});
  const hand = handmap.el("select", {"data-field": f("hand")});
  options(hand, HANDS.map((h) => [h, h]), b.hand);
  const action = handmap.el("select", {"data-field": f("action")});
  options(action, ACTIONS, b.action);
  const value = handmap.el("input", {"data-field": f("value"), value: b.value, autocomplete: "off"});
  const remove = handmap.el("button", {type: "button", text: "Remove", "aria-label": `Remove binding ${i + 1}`});
  const sync = () => {
    Object.assign(bindings[i], {trigger: trigger.value, pose: pose.value, hand: hand.value, action: action.value,
      value: value.value, ms: ms.value === "" ? null : Number(ms.value)});
  };
  for (const control of [trigger, pose, ms, hand, action, value]) control.addEventListener("change", sync);
  remove.addEventListener("click", () => { bindings.splice(i, 1); drawBindings(); });
  return handmap.el("div", {class: "row panel", role: "group", "aria-label": `Binding ${i + 1}`},
    field("Trigger", trigger), field("Pose or direction", pose), field("Milliseconds (held)", ms),
    field("Hand", hand), field("Action", action), field("Button, keys, text or steps", value), remove);
}

function drawBindings() {
  $("bindings").replaceChildren(...bindings.map(bindingRow));
}

const SIDES = ["left", "top", "right", "bottom"];

function regionData() {
  const values = SIDES.map((side) => $(`r-${side}`).value.trim());
  if (values.every((v) => v === "")) return null;
  return Object.fromEntries(SIDES.map((side, i) => [side, values[i] === "" ? "" : Number(values[i])]));
}

function formData() {
  document.querySelectorAll("#bindings input, #bindings select").forEach((n) => n.dispatchEvent(new Event("change")));
  return {region: regionData(), name: $("f-name").value, description: $("f-description").value, extends: $("f-extends").value,
    match: {class: $("f-class").value, title: $("f-title").value, process: $("f-process").value},
    bindings, kept: current.form ? current.form.kept : "", kept_bindings: current.form ? current.form.kept_bindings : ""};
}

async function openProfile(name) {
  clearErrors();
  current = await handmap.call("GET", `/api/profiles/${encodeURIComponent(name)}`);
  $("editor").hidden = false;
  $("editor-title").textContent = `Profile ${current.name}`;
  $("origin").textContent = current.editable ? "Your profile: saving writes your file, and the daemon reloads it."
    : "A bundled profile: read only. Create a new profile from it to change what it does.";
  $("file").textContent = `File: ${current.file}`;
  $("yaml").value = current.yaml;
  $("yaml").readOnly = !current.editable;
  $("save-yaml").disabled = !current.editable;
  $("form").hidden = !current.form;
  if (current.form) {
    const form = current.form;
    $("f-name").value = form.name || current.name;
    $("f-extends").value = form.extends;
    $("f-description").value = form.description;
    $("f-class").value = form.match.class;
    $("f-title").value = form.match.title;
    $("f-process").value = form.match.process;
    SIDES.forEach((side) => { $(`r-${side}`).value = form.region ? form.region[side] : ""; });
    bindings = form.bindings.map((b) => ({...b}));
    drawBindings();
    const kept = [form.kept, form.kept_bindings ? "bindings:\n" + form.kept_bindings : ""].filter(Boolean).join("\n");
    $("kept-box").hidden = !kept;
    $("kept").textContent = kept;
    $("form").querySelectorAll("input, select, button").forEach((n) => {
      if (!n.readOnly || n.id === "f-name" || n.id === "f-extends") n.disabled = !current.editable;
    });
  }
  if (current.form_problem) handmap.say(current.form_problem, true);
}

async function save(path, body, message, where) {
  clearErrors();
  try {
    const answer = await handmap.call("POST", path, body);
    handmap.say(message + (answer.warnings && answer.warnings.length ? " " + answer.warnings.join(" ") : ""));
    return answer;
  } catch (e) {
    if (e.data && e.data.errors) {
      showErrors(e.data.errors, where);
      handmap.say(`Not saved: ${e.data.errors.length} problem(s); the file is unchanged.`, true);
    } else {
      handmap.say(e.message, true);
    }
    return null;
  }
}

$("open").addEventListener("click", () => openProfile($("pick").value));
$("pick").addEventListener("keydown", (ev) => { if (ev.key === "Enter") openProfile($("pick").value); });
$("add").addEventListener("click", () => {
  bindings.push({trigger: "enter", pose: "pinch", ms: null, hand: "right", action: "click", value: "left"});
  drawBindings();
  document.querySelector(`#bindings .row:last-child select`).focus();
});
$("form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const answer = await save(`/api/profiles/${encodeURIComponent(current.name)}/form`, {form: formData()},
    `Saved ${current.name}: the daemon reloads it.`, $("editor"));
  if (answer) $("yaml").value = answer.yaml;
});
$("save-yaml").addEventListener("click", async () => {
  const answer = await save(`/api/profiles/${encodeURIComponent(current.name)}/yaml`, {yaml: $("yaml").value},
    `Saved ${current.name} from the YAML view: the daemon reloads it.`, $("editor"));
  if (answer) openProfile(current.name);
});
$("create").addEventListener("click", async () => {
  const name = $("new-name").value.trim();
  const answer = await save("/api/profiles", {name, template: $("new-template").value},
    `Created ${name}: add its bindings below and save.`, $("new-title").parentNode);
  if (answer) {
    await loadList(name);
    await openProfile(name);
  } else {
    $("new-errors").textContent = $("yaml-errors").textContent;
  }
});
loadList().catch((e) => handmap.say(e.message, true));
