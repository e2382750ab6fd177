// The coordinator's map: open requests (grouped where many are close: Leaflet.markercluster)
// and available volunteers counted per area. The data is a JSON script tag inside a live
// region: when live.js swaps it in afresh, the markers are drawn again (the view is kept).
// Data: requests as [latitude, longitude, number, urgency, category index]; volunteers as
// [latitude, longitude, how many] at the centre of a coarse cell, never a home.
(function () {
  "use strict";
  var element = document.getElementById("community-map");
  if (!element || !document.getElementById("map-data") || typeof L === "undefined") { return; }
  var points = JSON.parse(document.getElementById("map-data").textContent);
  // maxZoom on the map itself: clustering needs it, and without tiles (tests) no layer gives one.
  var map = L.map(element, { zoomControl: false, maxZoom: 19 }).setView([points.centre[0], points.centre[1]], 13);
  // Zoom buttons titled in the page's language (Leaflet's own are English only).
  L.control.zoom({ zoomInTitle: element.dataset.zoomIn, zoomOutTitle: element.dataset.zoomOut }).addTo(map);
  if (element.dataset.tiles) {
    L.tileLayer(element.dataset.tiles, { maxZoom: 19, attribution: "&copy; OpenStreetMap contributors" }).addTo(map);
  }
  var volunteers = L.layerGroup().addTo(map);
  var URGENT = 3;
  var requests = L.markerClusterGroup ? L.markerClusterGroup({
    showCoverageOnHover: false,
    maxClusterRadius: 50,
    chunkedLoading: true,  // thousands of markers without freezing the page
    iconCreateFunction: function (cluster) {
      var count = cluster.getChildCount();
      var urgent = cluster.getAllChildMarkers().some(function (marker) { return marker.options.urgency === URGENT; });
      var size = count < 10 ? 30 : count < 100 ? 36 : 44;
      return L.divIcon({
        html: "<span>" + count + "</span>",
        className: "map-cluster" + (urgent ? " has-urgent" : ""),
        iconSize: L.point(size, size),
      });
    },
  }) : L.featureGroup();
  requests.addTo(map);
  // Number labels in the icons: "!" soon, "!!" urgent, beside the colour (not colour alone).
  var SIGNS = { 1: "", 2: "!", 3: "!!" };
  element.requestMarkers = {};  // by request number: tests and scripts can find one

  function escape(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span.innerHTML;
  }

  function draw(first) {
    var data = document.getElementById("map-data");
    if (!data) { return; }
    var text = data.textContent;
    if (text === draw.drawn) { return; }
    draw.drawn = text;
    points = JSON.parse(text);
    volunteers.clearLayers();
    requests.clearLayers();
    element.requestMarkers = {};
    points.volunteers.forEach(function (cell) {
      L.circleMarker([cell[0], cell[1]], {
        radius: Math.min(3 + Math.sqrt(cell[2]), 10), color: "#1e6b2f", weight: 1, fillOpacity: 0.15,
      }).bindTooltip(cell[2] + " " + element.dataset.volunteersLabel).addTo(volunteers);
    });
    var markers = points.requests.map(function (point) {
      var number = point[2], urgency = point[3];
      var label = "#" + number + " " + points.categories[point[4]] + " · " + points.urgencies[urgency];
      var url = points.request_url.replace(/\/0\/$/, "/" + number + "/");
      var marker = L.marker([point[0], point[1]], {
        title: label,
        alt: label,
        urgency: urgency,
        icon: L.divIcon({
          className: "request-marker urgency-" + urgency,
          html: SIGNS[urgency] || "",
          iconSize: L.point(22, 22),
        }),
      });
      marker.bindPopup('<a href="' + url + '">' + escape(label) + "</a>");
      element.requestMarkers[number] = marker;
      return marker;
    });
    requests.addLayers(markers);
    // The first time, every open request in view; later updates keep what the reader chose.
    if (first && markers.length) {
      map.fitBounds(L.latLngBounds(markers.map(function (marker) { return marker.getLatLng(); })), {
        padding: [20, 20], maxZoom: 16,
      });
    }
  }
  draw(true);
  document.addEventListener("live:updated", function () { draw(false); });
})();
