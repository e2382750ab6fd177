// The coordinator's map: open requests and available volunteers (data in a JSON script tag).
(function () {
  "use strict";
  var element = document.getElementById("community-map");
  var data = document.getElementById("map-data");
  if (!element || !data || typeof L === "undefined") { return; }
  var points = JSON.parse(data.textContent);
  var map = L.map(element, { zoomControl: false }).setView([points.centre[0], points.centre[1]], 13);
  // Zoom buttons titled in the page's language (Leaflet's own are English only).
  L.control.zoom({ zoomInTitle: element.dataset.zoomIn, zoomOutTitle: element.dataset.zoomOut }).addTo(map);
  if (element.dataset.tiles) {
    L.tileLayer(element.dataset.tiles, { maxZoom: 19, attribution: "&copy; OpenStreetMap contributors" }).addTo(map);
  }
  points.volunteers.forEach(function (point) {
    L.circleMarker([point[0], point[1]], { radius: 5, color: "#1e6b2f", weight: 2, fillOpacity: 0.3 })
      .bindTooltip(element.dataset.volunteerLabel).addTo(map);
  });
  points.requests.forEach(function (point) {
    L.marker([point.lat, point.lon], { title: point.label, alt: point.label }).bindPopup(point.label).addTo(map);
  });
})();
