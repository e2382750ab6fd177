// Adds a map to a form with latitude/longitude fields: a click sets the point.
// Without JavaScript the form still works: type the address, or the coordinates.
(function () {
  "use strict";
  document.querySelectorAll("[data-map-picker]").forEach(function (element) {
    if (typeof L === "undefined") { return; }
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
    map.on("click", function (event) {
      latitude.value = event.latlng.lat.toFixed(6);
      longitude.value = event.latlng.lng.toFixed(6);
      place(event.latlng);
    });
  });
})();
