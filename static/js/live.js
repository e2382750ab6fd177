// Live updates: listen on the socket; on any change, and every time the socket opens (the
// first time too: a change made between the page's rendering and the socket joining its
// groups was told to nobody), fetch the page again and swap its live regions, so the server
// decides what this reader may see and an event missed while offline is never lost.
// Without JavaScript, pages work by reload. A close with 4429 (too many sockets of one
// person) waits a minute before trying again.
// The page says what it is doing on <html data-live="...">: "connecting", "refreshing",
// "idle" (socket open, nothing on its way) or "offline"; tests wait for "idle" instead of
// sleeping, and <html data-live-refreshes> counts the refreshes done.
(function () {
  "use strict";
  // A page may have several regions (the dashboard: figures above its map, lists below);
  // the first one names the community to follow and what to announce.
  var regions = Array.prototype.slice.call(document.querySelectorAll("[data-live-region]"));
  var region = regions[0];
  var indicator = document.querySelector("[data-live-status]");
  var announcer = document.querySelector("[data-live-announcer]");
  if (!region || !indicator || !window.WebSocket || !window.fetch) { return; }
  var delay = 1000;
  // The server's list of event types and change kinds (notifications/kinds.py), never a copy.
  var liveEventTypes = JSON.parse(document.getElementById("change-kinds").textContent).event_types;
  var refreshing = null;
  var again = null;  // an event came while a fetch was on its way: fetch once more after it
  var retry = null;
  var socketOpen = false;
  var refreshes = 0;

  function mark() {
    var state = !socketOpen ? (retry !== null ? "offline" : "connecting") : (refreshing ? "refreshing" : "idle");
    document.documentElement.dataset.live = state;
    document.documentElement.dataset.liveRefreshes = String(refreshes);
  }

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

  function focusInside(region) {
    var active = document.activeElement;
    return active && active !== region && region.contains(active) ? describe(active) : null;
  }

  function restore(region, focus) {
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

  // Every rendering masks the CSRF token afresh: that alone is no change.
  function comparable(html) {
    return html.replace(/(name="csrfmiddlewaretoken" value=")[^"]*"/g, '$1"');
  }

  function refresh(announce) {
    if (refreshing) {
      // The page on its way may have been rendered before this change: fetch again after it.
      again = { announce: announce || (again !== null && again.announce) };
      return refreshing;
    }
    // A fetch stuck on a dead connection would hold back every later refresh: give up on it.
    var controller = window.AbortController ? new AbortController() : null;
    var timeout = controller ? window.setTimeout(function () { controller.abort(); }, 20000) : null;
    refreshing = fetch(window.location.href, {
      credentials: "same-origin",
      headers: { "X-Live-Refresh": "1" },
      signal: controller ? controller.signal : undefined,
    })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelectorAll("[data-live-region]");
        var swapped = 0;
        regions.forEach(function (region, index) {
          var replacement = fresh[index];
          if (!replacement || comparable(replacement.innerHTML) === comparable(region.innerHTML)) { return; }
          var known = {};
          region.querySelectorAll("[data-live-item]").forEach(function (item) { known[item.dataset.liveItem] = true; });
          var focus = focusInside(region);
          region.innerHTML = replacement.innerHTML;
          region.querySelectorAll("[data-live-item]").forEach(function (item) {
            if (!known[item.dataset.liveItem]) { item.classList.add("just-arrived"); }
          });
          if (focus) { restore(region, focus); }
          swapped += 1;
        });
        if (swapped && announce && announcer) {
          announcer.textContent = region.dataset.liveMessage || indicator.dataset.updated;
        }
        // Scripts that draw from a region's data (the dashboard's map) redraw now.
        if (swapped) { document.dispatchEvent(new CustomEvent("live:updated")); }
      })
      .catch(function () { /* the next event or reconnect tries again */ })
      .then(function () {
        window.clearTimeout(timeout);
        refreshing = null;
        refreshes += 1;
        if (again) {
          var next = again;
          again = null;
          refresh(next.announce);
        }
        mark();
      });
    mark();
    return refreshing;
  }

  function connect() {
    retry = null;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    // A dashboard names its community (a superuser may look at any): follow that one.
    var community = region.dataset.liveCommunity;
    var query = community ? "?community=" + encodeURIComponent(community) : "";
    var socket = new WebSocket(scheme + window.location.host + "/ws/updates/" + query);
    var opened = null;
    socket.onopen = function () {
      opened = Date.now();
      socketOpen = true;
      show("live", indicator.dataset.live);
      // The socket hears only what happens from now on: catch up on what happened before,
      // while offline or since the page was rendered (only a real change is swapped in).
      refresh(true);
    };
    socket.onmessage = function (message) {
      var event = JSON.parse(message.data);
      if (liveEventTypes.indexOf(event.type) !== -1) { refresh(true); }
    };
    socket.onclose = function (event) {
      socketOpen = false;
      if (event.code === 4429) {
        // Too many sockets of this person (other tabs): wait a minute before asking again.
        show("offline", indicator.dataset.tooMany || indicator.dataset.offline);
        retry = window.setTimeout(connect, 60000 * (0.75 + Math.random() / 2));
        mark();
        return;
      }
      // 1001: the server is restarting; like any other close, reconnect (to another daphne).
      show("offline", indicator.dataset.offline);
      // Back off from 1 s to 30 s, spread out so that pages do not all come back at once
      // after a restart; only a socket that stayed up a while starts again from 1 s (one
      // the server keeps closing right away must not cost a page fetch every second).
      if (opened !== null && Date.now() - opened > 10000) { delay = 1000; }
      retry = window.setTimeout(connect, delay * (0.75 + Math.random() / 2));
      delay = Math.min(delay * 2, 30000);
      mark();
    };
    mark();
  }

  // Back online (a phone leaving a tunnel): try now rather than at the end of the wait.
  window.addEventListener("online", function () {
    if (retry !== null) {
      window.clearTimeout(retry);
      connect();
    }
  });
  // A page restored from the back/forward cache shows what it showed when it was left.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { refresh(true); }
  });
  connect();
})();
