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
    if (tokenState) tokenState.textContent = getToken() ? "token set for this tab" : "no token: Stop will ask for it";
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

  /* -- Stop buttons -- */
  function message(chain, text, bad) {
    var el = document.querySelector('[data-stop-msg="' + CSS.escape(chain) + '"]');
    if (el) { el.textContent = text; el.className = "stop-msg small " + (bad ? "bad" : "muted"); }
  }
  function stop(button) {
    var chain = button.getAttribute("data-stop");
    var token = getToken();
    if (!token) {
      token = (window.prompt("Token to stop chain " + chain + " (printed by serve.py, in .claude/state/serve.token):") || "").trim();
      if (!token) return;
      setToken(token);
    }
    if (!window.confirm("Stop chain " + chain + "? Its running session is ended; the chain can be resumed later.")) return;
    button.disabled = true;
    message(chain, "stopping…", false);
    fetch("/api/chains/" + encodeURIComponent(chain) + "/stop", {
      method: "POST", headers: { "X-Baton-Token": token }, credentials: "omit", cache: "no-store"
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
    time.textContent = new Date().toLocaleTimeString();
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
