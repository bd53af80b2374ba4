/* Applied before the page paints: a theme the user picked wins over the system's. */
(function () {
  try {
    var t = localStorage.getItem("baton-theme");
    if (t === "light" || t === "dark") document.documentElement.setAttribute("data-theme", t);
  } catch (e) { /* storage blocked: follow the system */ }
})();
