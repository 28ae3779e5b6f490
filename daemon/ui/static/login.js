// Trades the token in the address's fragment (never sent over the network) for a cookie.
"use strict";
(async () => {
  const message = document.getElementById("message");
  const token = decodeURIComponent(location.hash.slice(1));
  history.replaceState(null, "", "/login");
  if (!token) {
    message.textContent = "No token: open the settings window with the command 'handmap ui'.";
    return;
  }
  const answer = await fetch("/api/session", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({token})});
  if (answer.ok) {
    location.replace("/live");
  } else {
    message.textContent = "This token is not the running daemon's: open the settings window again with 'handmap ui'.";
  }
})();
