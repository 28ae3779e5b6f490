// The poses page: taught poses with their figures, and teaching one from the camera.
"use strict";
const $ = (id) => document.getElementById(id);
let polling = null;

async function loadPoses() {
  const data = await handmap.call("GET", "/api/poses");
  $("none").hidden = data.poses.length > 0;
  $("poses").replaceChildren(...data.poses.map((p) => handmap.el("tr", {},
    handmap.el("th", {scope: "row", text: p.name}), handmap.el("td", {text: String(p.hands)}),
    handmap.el("td", {text: p.hand}),
    handmap.el("td", {text: p.held_out ? `${Math.round(p.held_out_recall * 100)}% of the last ${p.held_out} hands` : "-"}),
    handmap.el("td", {text: p.warnings.join(" ") || "no warnings"}))));
}

function show(s) {
  const phase = {
    idle: "", countdown: `Get ready: show ${s.name} to the camera in ${s.left}...`,
    recording: `Recording ${s.name}: ${s.recorded_s.toFixed(0)} s of ${s.seconds}, ${s.hands} hands`,
    training: `Checking ${s.name}...`, done: `Taught ${s.name}: bind it in a profile as a pose.`,
    failed: `Not taught: ${s.error}`,
  }[s.phase];
  $("phase").textContent = phase;
  $("phase").className = s.phase === "failed" ? "error" : "";
  document.body.dataset.teach = s.phase;
  $("progress").hidden = s.phase !== "recording";
  $("progress").value = s.seconds ? Math.min(1, s.recorded_s / s.seconds) : 0;
  $("result").replaceChildren(...s.lines.map((l) => handmap.el("li", {text: l})));
  $("warnings").replaceChildren(...s.warnings.map((w) => handmap.el("li", {text: `warning: ${w}`})));
  const busy = ["countdown", "recording", "training"].includes(s.phase);
  $("start").disabled = busy;
  $("cancel").disabled = !busy;
  if (!busy && polling) {
    clearInterval(polling);
    polling = null;
    loadPoses().catch((e) => handmap.say(e.message, true));
  }
}

async function poll() {
  try { show(await handmap.call("GET", "/api/teach")); } catch (e) { handmap.say(e.message, true); }
}

$("teach").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  document.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
  document.querySelectorAll(".field-error").forEach((n) => n.remove());
  try {
    show(await handmap.call("POST", "/api/teach", {name: $("t-name").value.trim(), hand: $("t-hand").value,
      seconds: Number($("t-seconds").value)}));
    if (!polling) polling = setInterval(poll, 250);
  } catch (e) {
    for (const err of (e.data && e.data.errors) || []) {
      const input = document.querySelector(`#teach [data-field="${err.field}"]`);
      const id = `err-${err.field}`;
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", id);
      input.closest(".field").append(handmap.el("span", {class: "error field-error", id, role: "alert", text: err.message}));
    }
    handmap.say(e.data && e.data.errors ? "Not started: see the fields." : e.message, true);
  }
});
$("cancel").addEventListener("click", async () => show(await handmap.call("POST", "/api/teach/cancel", {})));
loadPoses().catch((e) => handmap.say(e.message, true));
poll().then(() => { if (["countdown", "recording", "training"].includes(document.body.dataset.teach)) polling = setInterval(poll, 250); });
