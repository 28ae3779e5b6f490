// The live page: the camera view (a JPEG a few times a second, only while the page is
// open) and the daemon's state.
"use strict";
const FRAME_MS = 200;
const STATE_MS = 250;
const view = document.getElementById("view");
let shownProfiles = "";
let lastUrl = null;

async function refreshState() {
  try {
    const s = await handmap.call("GET", "/api/state");
    const state = document.getElementById("state");
    state.textContent = s.state + (s.paused_by ? ` (by ${s.paused_by})` : "");
    state.className = "state-" + s.state.replace(/ /g, "-");
    document.getElementById("profile").textContent = s.profile;
    document.getElementById("fps").textContent = s.fps.toFixed(1) + " fps";
    document.getElementById("touches").textContent = s.face_touches_today;
    const hands = s.hands.map((h) => `${h.hand}: ${h.pose}`);
    document.getElementById("hands").textContent = hands.length ? hands.join(", ") : "none in view";
    const names = s.profiles.join(",");
    if (names !== shownProfiles) {
      shownProfiles = names;
      const select = document.getElementById("profile-choice");
      select.replaceChildren(...s.profiles.map((n) => handmap.el("option", {value: n, text: n})));
      select.value = s.profile;
    }
    document.getElementById("profile-choice").dataset.current = s.profile;
  } catch (e) {
    handmap.say(e.message, true);
  }
}

async function refreshFrame() {
  try {
    const answer = await fetch("/api/frame.jpg");
    if (answer.status === 200) {
      const url = URL.createObjectURL(await answer.blob());
      view.src = url;
      if (lastUrl) URL.revokeObjectURL(lastUrl);
      lastUrl = url;
    }
  } catch (e) { /* the next one */ }
  setTimeout(refreshFrame, FRAME_MS);
}

async function act(path, body, done) {
  try {
    await handmap.call("POST", path, body);
    handmap.say(done);
    refreshState();
  } catch (e) {
    handmap.say(e.message, true);
  }
}

document.getElementById("pause").addEventListener("click", () => act("/api/pause", {}, "Paused: no input is sent."));
document.getElementById("resume").addEventListener("click", () => act("/api/resume", {}, "Resumed."));
document.getElementById("switch").addEventListener("click", () => {
  const name = document.getElementById("profile-choice").value;
  act("/api/profile", {name}, `Switched to ${name}.`);
});
refreshState();
setInterval(refreshState, STATE_MS);
refreshFrame();
