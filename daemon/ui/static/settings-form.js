// A form of configuration keys (data-field="section.key"): filled from the daemon's
// configuration, saved into the user's config.yaml, each problem shown at its field.
"use strict";
const settingsForm = {
  loaded: {},
  fill(values) {
    this.loaded = values;
    document.querySelectorAll("#form [data-field]").forEach((input) => {
      const value = values[input.dataset.field];
      if (value === undefined) return;
      if (input.type === "checkbox") input.checked = Boolean(value); else input.value = value;
    });
  },
  read(input) {
    if (input.type === "checkbox") return input.checked;
    if (input.type === "number") {
      const n = Number(input.value);
      return input.value.trim() !== "" && Number.isFinite(n) ? n : input.value;
    }
    return input.value;
  },
  changed() {
    const out = {};
    document.querySelectorAll("#form [data-field]").forEach((input) => {
      const key = input.dataset.field;
      if (!(key in this.loaded)) return;
      const value = this.read(input);
      if (value !== this.loaded[key]) out[key] = value;
    });
    return out;
  },
  clear() {
    document.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
    document.querySelectorAll(".field-error").forEach((n) => n.remove());
  },
  show(errors) {
    for (const e of errors) {
      const input = document.querySelector(`#form [data-field="${e.field}"]`);
      if (!input) continue;
      input.setAttribute("aria-invalid", "true");
      const id = "err-" + e.field.replace(/\./g, "-");
      input.setAttribute("aria-describedby", id);
      input.closest(".field").append(handmap.el("span", {class: "error field-error", id, role: "alert", text: e.where}));
    }
  },
  attach(onSaved) {
    document.getElementById("form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      this.clear();
      const values = this.changed();
      if (!Object.keys(values).length) { handmap.say("Nothing changed."); return; }
      try {
        const answer = await handmap.call("POST", "/api/settings", {values});
        Object.assign(this.loaded, values);
        handmap.say(`Saved in ${answer.file}.`);
        if (onSaved) onSaved();
      } catch (e) {
        if (e.data && e.data.errors) {
          this.show(e.data.errors);
          handmap.say(`Not saved: ${e.data.errors.length} problem(s); the file is unchanged.`, true);
        } else {
          handmap.say(e.message, true);
        }
      }
    });
  },
};
