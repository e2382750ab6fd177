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

  // An update never moves the reader: focus outside the region is untouched by the swap;
  // focus inside it (say, typing a reason to cancel) goes back to the same control in the
  // new content, with what was typed, or to the region itself if that control is gone.
  function describe(element) {
    var item = element.closest("[data-live-item]");
    var selector = element.tagName.toLowerCase();
    ["name", "id", "href", "type"].forEach(function (attribute) {
      var value = element.getAttribute(attribute);
      if (value) { selector += "[" + attribute + '="' + value.replace(/["\\]/g, "\\$&") + '"]'; }
    });
    var form = element.form || element.closest("form");
    return {
      item: item ? item.dataset.liveItem : null,
      action: form ? form.getAttribute("action") : null,
      selector: selector,
      value: typed(element) ? element.value : null,
      start: element.selectionStart,
      end: element.selectionEnd,
    };
  }

  function typed(element) {
    if (element.tagName === "SELECT") { return true; }
    if (element.tagName !== "TEXTAREA" && element.tagName !== "INPUT") { return false; }
    return !/^(checkbox|radio|hidden|submit|button|reset)$/.test(element.type) && element.value !== element.defaultValue;
  }

  function focusInside() {
    var active = document.activeElement;
    return active && active !== region && region.contains(active) ? describe(active) : null;
  }

  function restore(focus) {
    var match = null;
    region.querySelectorAll(focus.selector).forEach(function (candidate) {
      var item = candidate.closest("[data-live-item]");
      var form = candidate.form || candidate.closest("form");
      if (match || (item ? item.dataset.liveItem : null) !== focus.item) { return; }
      if ((form ? form.getAttribute("action") : null) !== focus.action) { return; }
      match = candidate;
    });
    if (!match) {
      if (!region.hasAttribute("tabindex")) { region.setAttribute("tabindex", "-1"); }
      region.focus({ preventScroll: true });
      return;
    }
    if (focus.value !== null) { match.value = focus.value; }
    match.focus({ preventScroll: true });
    if (focus.start !== null && focus.start !== undefined && match.setSelectionRange) {
      try { match.setSelectionRange(focus.start, focus.end); } catch (error) { /* not a text field */ }
    }
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
        var focus = focusInside();
        region.innerHTML = fresh.innerHTML;
        region.querySelectorAll("[data-live-item]").forEach(function (item) {
          if (!known[item.dataset.liveItem]) { item.classList.add("just-arrived"); }
        });
        if (focus) { restore(focus); }
        if (announce && announcer) { announcer.textContent = region.dataset.liveMessage || indicator.dataset.updated; }
      })
      .catch(function () { /* the next event or reconnect tries again */ })
      .then(function () { refreshing = null; });
    return refreshing;
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    // A dashboard names its community (a superuser may look at any): follow that one.
    var community = region.dataset.liveCommunity;
    var query = community ? "?community=" + encodeURIComponent(community) : "";
    var socket = new WebSocket(scheme + window.location.host + "/ws/updates/" + query);
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
