// The settings page: camera and hand model, saved into the user's config.yaml.
"use strict";
(async () => {
  try {
    const data = await handmap.call("GET", "/api/settings");
    document.getElementById("file").textContent = `Saved into ${data.file} (only what you change).`;
    settingsForm.fill(data.values);
    settingsForm.attach();
  } catch (e) {
    handmap.say(e.message, true);
  }
})();
