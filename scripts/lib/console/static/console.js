/* baton console: theme toggle, kill-switch token, Stop buttons, live updates over Server-Sent Events.
   Everything but live updates and Stop works without this script. */
(function () {
  "use strict";
  var root = document.documentElement;
  var body = document.body;
  var TOKEN_KEY = "baton-token";

  /* -- theme: auto (system) -> light -> dark -> auto -- */
  var themeButton = document.getElementById("theme-toggle");
  function currentTheme() { return root.getAttribute("data-theme") || "auto"; }
  function showTheme() {
    if (!themeButton) return;
    var t = currentTheme();
    themeButton.textContent = "Theme: " + t;
    themeButton.title = t === "auto" ? "Theme: follows the system" : "Theme: " + t;
  }
  if (themeButton) {
    themeButton.hidden = false;
    showTheme();
    themeButton.addEventListener("click", function () {
      var next = { auto: "light", light: "dark", dark: "auto" }[currentTheme()];
      if (next === "auto") root.removeAttribute("data-theme"); else root.setAttribute("data-theme", next);
      try { if (next === "auto") localStorage.removeItem("baton-theme"); else localStorage.setItem("baton-theme", next); }
      catch (e) { /* not kept: fine */ }
      showTheme();
    });
  }

  /* -- the token: kept in this tab only (sessionStorage), never in a cookie -- */
  function getToken() { try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; } }
  function setToken(value) {
    try { if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY); }
    catch (e) { /* storage blocked */ }
    showTokenState();
  }
  var hash = window.location.hash;
  if (hash.indexOf("#token=") === 0) {
    setToken(decodeURIComponent(hash.slice(7)));
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  var tokenForm = document.getElementById("token-form");
  var tokenInput = document.getElementById("token-input");
  var tokenState = document.getElementById("token-state");
  function showTokenState() {
    if (tokenState) tokenState.textContent = getToken() ? "token set for this tab" : "no token: Stop will ask for it, Start needs it";
  }
  if (tokenForm) {
    tokenForm.hidden = false;
    showTokenState();
    tokenForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      setToken(tokenInput.value.trim());
      tokenInput.value = "";
    });
    document.getElementById("token-clear").addEventListener("click", function () { setToken(""); });
  }

  /* -- Stop: the token is checked first (masked field), then the confirmation names who stops -- */
  function message(chain, text, bad) {
    var el = document.querySelector('[data-stop-msg="' + CSS.escape(chain) + '"]');
    if (el) { el.textContent = text; el.className = "stop-msg small " + (bad ? "bad" : "muted"); }
  }
  function checkToken(token) {
    return fetch("/api/auth", { method: "POST", headers: { "X-Baton-Token": token }, credentials: "omit",
                                cache: "no-store" }).then(function (res) { return res.ok; });
  }
  var dialog = document.getElementById("stop-dialog");
  var pending = null;
  function showStep(tokenStep) {
    document.getElementById("stop-token-step").hidden = !tokenStep;
    document.getElementById("stop-confirm-step").hidden = tokenStep;
    document.getElementById("stop-go").textContent = tokenStep ? "Check token" : "Stop the chain";
    document.getElementById("stop-error").textContent = "";
    if (tokenStep) document.getElementById("stop-token").focus();
    else document.getElementById("stop-operator").focus();
  }
  function doStop(button, operator) {
    var chain = button.getAttribute("data-stop");
    button.disabled = true;
    message(chain, "stopping…", false);
    fetch("/api/chains/" + encodeURIComponent(chain) + "/stop", {
      method: "POST", headers: { "X-Baton-Token": getToken(), "Content-Type": "application/json" },
      body: JSON.stringify(operator ? { operator: operator } : {}), credentials: "omit", cache: "no-store"
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (res.ok) { message(chain, "stopped", false); refresh(); return; }
        if (res.status === 401 || res.status === 403) setToken("");
        message(chain, (data && data.error) || ("error " + res.status), true);
        button.disabled = false;
      });
    }).catch(function (err) {
      message(chain, "could not reach the console: " + err, true);
      button.disabled = false;
    });
  }
  function stop(button) {
    pending = button;
    document.getElementById("stop-chain").textContent = button.getAttribute("data-stop");
    var token = getToken();
    if (!token) { dialog.showModal(); showStep(true); return; }
    // A kept token may be stale (the console makes a new one at every start): check it before confirming.
    checkToken(token).then(function (ok) {
      if (!ok) setToken("");
      dialog.showModal();
      showStep(!ok);
    });
  }
  if (dialog) {
    document.getElementById("stop-cancel").addEventListener("click", function () { dialog.close(); pending = null; });
    document.getElementById("stop-form").addEventListener("submit", function (ev) {
      ev.preventDefault();
      var err = document.getElementById("stop-error");
      if (!document.getElementById("stop-token-step").hidden) {
        var input = document.getElementById("stop-token");
        var token = input.value.trim();
        if (!token) { err.textContent = "Enter the token printed by serve.py."; return; }
        checkToken(token).then(function (ok) {
          if (!ok) { err.textContent = "That token is not this console's."; return; }
          input.value = "";
          setToken(token);
          showStep(false);
        }).catch(function () { err.textContent = "Could not reach the console."; });
        return;
      }
      var button = pending;
      pending = null;
      dialog.close();
      if (button) doStop(button, document.getElementById("stop-operator").value);
    });
  }

  /* -- the launcher: POST /api/chains with the token, then follow the new chain -- */
  var launchForm = document.getElementById("launch-form");
  if (launchForm) {
    launchForm.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var msg = document.getElementById("launch-msg");
      var f = launchForm.elements;
      var token = getToken();
      if (!token) {
        msg.textContent = "Set the token first (below the page), then start the chain.";
        msg.className = "launch-msg small bad";
        if (tokenInput) tokenInput.focus();
        return;
      }
      var bodyData = { mission: f.mission.value };
      if (f.project && f.project.value) bodyData.project = f.project.value;
      if (f.operator.value) bodyData.operator = f.operator.value;
      if (f.max_sessions.value) bodyData.max_sessions = parseInt(f.max_sessions.value, 10);
      if (f.budget_usd.value) bodyData.budget_usd = parseFloat(f.budget_usd.value);
      if (f.model.value.trim()) bodyData.model = f.model.value.trim();
      if (f.worktree.checked) bodyData.worktree = true;
      msg.textContent = "starting…";
      msg.className = "launch-msg small muted";
      fetch("/api/chains", {
        method: "POST", headers: { "X-Baton-Token": token, "Content-Type": "application/json" },
        body: JSON.stringify(bodyData), credentials: "omit", cache: "no-store"
      }).then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (data) {
          if (res.ok && data.id) {
            msg.textContent = "";
            var link = document.createElement("a");
            link.href = "/chains/" + encodeURIComponent(data.id);
            link.className = "mono";
            link.textContent = data.id;
            msg.appendChild(document.createTextNode("started "));
            msg.appendChild(link);
            msg.className = "launch-msg small";
            launchForm.elements.mission.value = "";
            refresh();
            return;
          }
          if (res.status === 401 || res.status === 403) setToken("");
          msg.textContent = (data && data.error) || ("error " + res.status);
          msg.className = "launch-msg small bad";
        });
      }).catch(function (err) {
        msg.textContent = "could not reach the console: " + err;
        msg.className = "launch-msg small bad";
      });
    });
  }

  /* -- relative times ("3 min ago") stay true while the page is open; the UTC time is their title -- */
  function ago(iso) {
    var s = Math.round((Date.now() - Date.parse(iso)) / 1000);
    if (isNaN(s)) return null;
    if (s < 45 && s > -45) return "just now";
    var future = s < 0; s = Math.abs(s);
    var text;
    if (s < 3600) text = Math.floor(s / 60) + " min";
    else if (s < 86400) { var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60); text = h + " h" + (m ? " " + m + " min" : ""); }
    else { var d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600); text = d + " d" + (hh ? " " + hh + " h" : ""); }
    return future ? "in " + text : text + " ago";
  }
  setInterval(function () {
    var times = document.querySelectorAll("time[data-ago]");
    for (var i = 0; i < times.length; i++) {
      var text = ago(times[i].getAttribute("datetime"));
      if (text) times[i].textContent = text;
    }
  }, 30000);

  function enhance(scope) {
    var buttons = scope.querySelectorAll("button[data-stop]");
    for (var i = 0; i < buttons.length; i++) {
      var b = buttons[i];
      if (b.getAttribute("data-ready")) continue;
      b.setAttribute("data-ready", "1");
      b.hidden = false;
      b.addEventListener("click", function (ev) { stop(ev.currentTarget); });
    }
  }
  enhance(document);

  /* -- live updates: re-render the live regions from the server's own HTML -- */
  var busy = false, again = false, timer = null;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.href, { cache: "no-store", credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (res) { return res.ok ? res.text() : null; })
      .then(function (html) {
        if (!html) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var regions = document.querySelectorAll("[data-live]");
        for (var i = 0; i < regions.length; i++) {
          var fresh = doc.getElementById(regions[i].id);
          if (!fresh) continue;
          var node = document.importNode(fresh, true);
          regions[i].replaceWith(node);
          enhance(node);
        }
        body.setAttribute("data-refreshed", String(Number(body.getAttribute("data-refreshed") || 0) + 1));
      })
      .catch(function () { /* the next event tries again */ })
      .then(function () {
        busy = false;
        if (again) { again = false; refresh(); }
      });
  }
  function schedule(delay) {
    if (timer) return;
    timer = setTimeout(function () { timer = null; refresh(); }, delay);
  }

  var log = document.getElementById("event-log");
  function note(type, data) {
    if (!log) return;
    document.getElementById("events").hidden = false;
    var li = document.createElement("li");
    var time = document.createElement("span");
    time.className = "muted";
    // UTC, as everywhere else on the page.
    time.textContent = new Date().toISOString().slice(11, 19) + " UTC";
    var kind = document.createElement("span");
    kind.className = "ev-type";
    kind.textContent = type.replace(/_/g, " ");
    var what = document.createElement("span");
    what.className = "mono";
    what.textContent = [data.chain, data.session, data.status].filter(Boolean).join(" · ");
    li.appendChild(time); li.appendChild(kind); li.appendChild(what);
    log.insertBefore(li, log.firstChild);
    while (log.children.length > 50) log.removeChild(log.lastChild);
  }

  if (body.getAttribute("data-live-page") && window.EventSource) {
    var status = document.getElementById("live-status");
    var project = body.getAttribute("data-project");
    var source = new EventSource("/api/events" + (project ? "?project=" + encodeURIComponent(project) : ""));
    status.hidden = false;
    source.onopen = function () { status.textContent = "live"; status.className = "live-status on"; };
    source.onerror = function () { status.textContent = "reconnecting"; status.className = "live-status"; };
    var types = ["chain_started", "chain_updated", "chain_finished", "chain_stopped", "breaker_opened",
                 "session_started", "session_ended", "handoff_written", "telemetry_updated"];
    types.forEach(function (type) {
      source.addEventListener(type, function (ev) {
        var data = {};
        try { data = JSON.parse(ev.data).data || {}; } catch (e) { /* keep going */ }
        if (type !== "telemetry_updated" && type !== "chain_updated") note(type, data);
        schedule(type === "telemetry_updated" ? 1000 : 150);
      });
    });
  }
})();
