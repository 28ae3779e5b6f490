// The face-touch page: today's count, the history per day and per hour, alert settings.
"use strict";
function bars(body, rows) {
  const most = Math.max(1, ...rows.map((r) => r[1]));
  body.replaceChildren(...rows.map(([label, n]) => {
    const bar = handmap.el("span", {class: "bar", "aria-hidden": "true"});
    bar.style.width = `${(12 * n) / most}rem`;  // the style object, which the page's policy allows
    return handmap.el("tr", {}, handmap.el("th", {scope: "row", text: label}), handmap.el("td", {}, bar, ` ${n}`));
  }));
}
async function refresh() {
  const data = await handmap.call("GET", "/api/faces");
  document.getElementById("today").textContent = data.today;
  document.getElementById("note").textContent = data.note;
  bars(document.getElementById("days"), data.per_day);
  const now = new Date().getHours();
  bars(document.getElementById("hours"), data.today_by_hour.slice(0, now + 1)
    .map((n, h) => [`${String(h).padStart(2, "0")}:00`, n]));
  settingsForm.fill({...data.alerts, "alerts.muted": data.muted});
}
refresh().then(() => settingsForm.attach(refresh)).catch((e) => handmap.say(e.message, true));
