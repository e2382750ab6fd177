// Live updates: listen on the socket; on any change (and after every reconnect) fetch the
// page again and swap its live region, so the server decides what this reader may see
// and an event missed while offline is never lost. Without JavaScript, pages work by reload.
(function () {
  "use strict";
  var region = document.querySelector("[data-live-region]");
  var indicator = document.querySelector("[data-live-status]");
  var announcer = document.querySelector("[data-live-announcer]");
  if (!region || !indicator || !window.WebSocket || !window.fetch) { return; }
  var delay = 1000;
  var refreshing = null;

  function show(state, text) {
    indicator.dataset.state = state;
    indicator.textContent = text;
    indicator.hidden = false;
  }

  function refresh(announce) {
    if (refreshing) { return refreshing; }
    refreshing = fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live-Refresh": "1" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-live-region]");
        if (!fresh || fresh.innerHTML === region.innerHTML) { return; }
        var known = {};
        region.querySelectorAll("[data-live-item]").forEach(function (item) { known[item.dataset.liveItem] = true; });
        region.innerHTML = fresh.innerHTML;
        region.querySelectorAll("[data-live-item]").forEach(function (item) {
          if (!known[item.dataset.liveItem]) { item.classList.add("just-arrived"); }
        });
        if (announce && announcer) { announcer.textContent = region.dataset.liveMessage || indicator.dataset.updated; }
      })
      .catch(function () { /* the next event or reconnect tries again */ })
      .then(function () { refreshing = null; });
    return refreshing;
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + "/ws/updates/");
    socket.onopen = function () {
      show("live", indicator.dataset.live);
      if (delay > 1000) { refresh(false); }  // catch up on what happened while offline
      delay = 1000;
    };
    socket.onmessage = function (message) {
      var event = JSON.parse(message.data);
      if (event.type === "task.changed") { refresh(true); }
    };
    socket.onclose = function () {
      show("offline", indicator.dataset.offline);
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
