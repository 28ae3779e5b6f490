// Shared by every page: the navigation and calls to the daemon.
"use strict";
const handmap = {
  async call(method, path, body) {
    const options = {method, headers: {}};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const answer = await fetch(path, options);
    if (answer.status === 401) {
      document.body.dataset.refused = "true";
      throw new Error("The settings window's token is no longer valid: open it again with 'handmap ui'.");
    }
    let data = {};
    try { data = await answer.json(); } catch (e) { data = {}; }
    if (!answer.ok) {
      const error = new Error(data.error || answer.statusText);
      error.data = data;
      throw error;
    }
    return data;
  },
  say(text, isError) {
    const status = document.getElementById("status");
    if (status) {
      status.textContent = text;
      status.className = "status" + (isError ? " error" : "");
    }
  },
  el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = value; else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) node.append(child);
    return node;
  },
};
// The pages' shared header: the navigation, the current page marked.
const PAGES = [["/live", "Live"], ["/profiles", "Profiles"], ["/poses", "Poses"], ["/faces", "Face touch"],
  ["/settings", "Settings"]];
document.body.prepend(handmap.el("header", {}, handmap.el("span", {class: "brand", text: "handmap"}),
  handmap.el("nav", {"aria-label": "Pages"}, handmap.el("ul", {}, ...PAGES.map(([href, text]) =>
    handmap.el("li", {}, handmap.el("a", {href, text, "aria-current": href === location.pathname ? "page" : null})))))));
