// Adds a map to a form with latitude/longitude fields: a click sets the point.
// The map loads only when the person asks for it ("Show the map"): Leaflet (about 150 kB)
// and its tiles would otherwise weigh on every visit from a slow phone. Without JavaScript
// the form still works: type the address, or the coordinates.
(function () {
  "use strict";
  var leafletLoading = null;

  function loadLeaflet(element) {
    if (typeof L !== "undefined") { return Promise.resolve(); }
    if (!leafletLoading) {
      leafletLoading = new Promise(function (resolve, reject) {
        var style = document.createElement("link");
        style.rel = "stylesheet";
        style.href = element.dataset.leafletCss;
        document.head.appendChild(style);
        var script = document.createElement("script");
        script.src = element.dataset.leafletJs;
        script.onload = resolve;
        script.onerror = function () { leafletLoading = null; reject(); };
        document.head.appendChild(script);
      });
    }
    return leafletLoading;
  }

  function showMap(element) {
    var form = element.closest("form");
    var latitude = form.querySelector("[name=latitude]");
    var longitude = form.querySelector("[name=longitude]");
    var start = [parseFloat(element.dataset.lat), parseFloat(element.dataset.lon)];
    var map = L.map(element, { zoomControl: false }).setView(start, 13);
    // Zoom buttons titled in the page's language (Leaflet's own are English only).
    L.control.zoom({ zoomInTitle: element.dataset.zoomIn, zoomOutTitle: element.dataset.zoomOut }).addTo(map);
    if (element.dataset.tiles) {
      L.tileLayer(element.dataset.tiles, { maxZoom: 19, attribution: "&copy; OpenStreetMap contributors" }).addTo(map);
    }
    var marker = null;
    function place(point) {
      if (marker) { marker.setLatLng(point); } else { marker = L.marker(point).addTo(map); }
    }
    if (latitude.value && longitude.value) { place([parseFloat(latitude.value), parseFloat(longitude.value)]); }
    // The click in words ("near Naamsestraat, Leuven centrum"), read out by screen readers.
    var said = element.parentNode.querySelector("[data-map-place]");
    function describe() {
      var query = new URLSearchParams({ latitude: latitude.value, longitude: longitude.value });
      fetch(element.dataset.describeUrl + "?" + query, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : { description: "" }; })
        .then(function (answer) {
          said.textContent = answer.description ? element.dataset.describePrefix + " " + answer.description + "." : "";
          said.hidden = !answer.description;
        }, function () { said.hidden = true; });
    }
    map.on("click", function (event) {
      latitude.value = event.latlng.lat.toFixed(6);
      longitude.value = event.latlng.lng.toFixed(6);
      place(event.latlng);
      if (said) { describe(); }
    });
  }

  document.querySelectorAll("[data-map-picker]").forEach(function (element) {
    var button = element.parentNode.querySelector("[data-map-open]");
    if (!button) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      button.disabled = true;
      loadLeaflet(element).then(function () {
        element.hidden = false;  // Leaflet measures its container: show it first
        button.hidden = true;
        showMap(element);
        element.focus();  // the button is gone; keyboard focus moves to the map it opened
      }, function () {
        button.disabled = false;  // offline for a moment: the button can be tried again
      });
    });
  });
})();
