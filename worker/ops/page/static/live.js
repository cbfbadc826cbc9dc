// mj-worker operator page: keeps the server-rendered page live without a reload.
// Every few seconds it fetches ./fragment (the same sections, rendered by the server) and
// swaps in only the sections whose HTML changed; times are shown as "12 s ago" against the
// server's clock. No dependency and no build step: this file is served as it is.
(function () {
  "use strict";
  var script = document.currentScript;
  var every = Number(script && script.getAttribute("data-refresh-ms")) || 2000;
  var live = document.getElementById("live");
  var updated = document.getElementById("updated");
  var skew = 0; // the server's clock minus this browser's, in seconds
  var seen = {}; // section id -> the HTML last rendered for it
  var busy = false;
  window.mjUpdates = 0;

  function serverNow() {
    return Date.now() / 1000 + skew;
  }

  function readClock(root) {
    var health = root.querySelector("#health");
    var now = health && Number(health.getAttribute("data-now"));
    if (now) skew = now - Date.now() / 1000;
  }

  function ago(seconds) {
    if (seconds < 1) return "just now";
    if (seconds < 90) return Math.round(seconds) + " s ago";
    if (seconds < 5400) return Math.round(seconds / 60) + " min ago";
    return Math.round(seconds / 3600) + " h ago";
  }

  function showTimes() {
    var now = serverNow();
    var times = live.querySelectorAll("time.ago[data-at]");
    for (var i = 0; i < times.length; i++) {
      times[i].textContent = ago(now - Number(times[i].getAttribute("data-at")));
    }
  }

  function remember() {
    var sections = live.querySelectorAll("section[id]");
    for (var i = 0; i < sections.length; i++) seen[sections[i].id] = sections[i].innerHTML;
  }

  function say(text, bad) {
    updated.textContent = text;
    updated.className = bad ? "bad" : "dim";
  }

  function apply(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    readClock(template.content);
    var fresh = template.content.querySelectorAll("section[id]");
    for (var i = 0; i < fresh.length; i++) {
      var id = fresh[i].id;
      if (seen[id] === fresh[i].innerHTML) continue;
      seen[id] = fresh[i].innerHTML;
      var old = document.getElementById(id);
      if (old) old.replaceWith(fresh[i]);
      else live.appendChild(fresh[i]);
    }
    window.mjUpdates += 1;
    showTimes();
    say("live · updated " + new Date().toLocaleTimeString(), false);
  }

  function poll() {
    if (busy || document.hidden) return;
    busy = true;
    fetch("fragment", { cache: "no-store", credentials: "same-origin" })
      .then(function (reply) {
        if (!reply.ok) throw new Error("HTTP " + reply.status);
        return reply.text();
      })
      .then(apply)
      .catch(function (error) {
        say("not updating (" + error.message + "), retrying", true);
      })
      .then(function () {
        busy = false;
      });
  }

  remember();
  readClock(document);
  showTimes();
  say("live", false);
  setInterval(poll, every);
  setInterval(showTimes, 1000);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) poll();
  });
})();
