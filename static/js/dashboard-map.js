// The coordinator's map: open requests and available volunteers (data in a JSON script tag
// inside a live region: when live.js swaps it in afresh, the markers are drawn again).
(function () {
  "use strict";
  var element = document.getElementById("community-map");
  if (!element || !document.getElementById("map-data") || typeof L === "undefined") { return; }
  var points = JSON.parse(document.getElementById("map-data").textContent);
  var map = L.map(element, { zoomControl: false }).setView([points.centre[0], points.centre[1]], 13);
  // Zoom buttons titled in the page's language (Leaflet's own are English only).
  L.control.zoom({ zoomInTitle: element.dataset.zoomIn, zoomOutTitle: element.dataset.zoomOut }).addTo(map);
  if (element.dataset.tiles) {
    L.tileLayer(element.dataset.tiles, { maxZoom: 19, attribution: "&copy; OpenStreetMap contributors" }).addTo(map);
  }
  var markers = L.layerGroup().addTo(map);

  function draw() {
    var data = document.getElementById("map-data");
    if (!data) { return; }
    var text = data.textContent;
    if (text === draw.drawn) { return; }
    draw.drawn = text;
    points = JSON.parse(text);
    markers.clearLayers();
    points.volunteers.forEach(function (point) {
      L.circleMarker([point[0], point[1]], { radius: 5, color: "#1e6b2f", weight: 2, fillOpacity: 0.3 })
        .bindTooltip(element.dataset.volunteerLabel).addTo(markers);
    });
    points.requests.forEach(function (point) {
      L.marker([point.lat, point.lon], { title: point.label, alt: point.label }).bindPopup(point.label).addTo(markers);
    });
  }
  draw();
  document.addEventListener("live:updated", draw);
})();
