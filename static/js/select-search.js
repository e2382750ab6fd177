// A search box above a long <select data-searchable> (a community's hundreds of volunteers):
// typing keeps only the options whose label holds every word typed (name, neighbourhood, the
// phone's last digits), accents and case ignored. Without JavaScript the plain select works.
(function () {
  "use strict";
  function fold(text) { return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase(); }

  document.querySelectorAll("select[data-searchable]").forEach(function (select) {
    var label = document.createElement("label");
    var search = document.createElement("input");
    var status = document.createElement("p");
    search.type = "search";
    search.id = select.id + "-search";
    search.setAttribute("aria-controls", select.id);
    search.autocomplete = "off";
    label.htmlFor = search.id;
    label.textContent = select.dataset.searchLabel;
    status.className = "helptext";
    status.setAttribute("aria-live", "polite");
    select.parentNode.insertBefore(label, select);
    select.parentNode.insertBefore(search, select);
    select.parentNode.insertBefore(status, select);

    search.addEventListener("input", function () {
      var words = fold(search.value).split(/\s+/).filter(Boolean);
      var found = 0;
      var first = null;
      Array.prototype.forEach.call(select.options, function (option) {
        if (!option.value) { return; }  // the empty choice stays
        var matches = words.every(function (word) { return fold(option.text).indexOf(word) !== -1; });
        option.hidden = !matches;
        option.disabled = !matches;  // browsers that show hidden options still cannot pick them
        if (matches) { found += 1; first = first || option; }
      });
      var chosen = select.options[select.selectedIndex];
      if (first && (!chosen || chosen.disabled)) { first.selected = true; }
      status.textContent = words.length ? select.dataset.searchFound.replace("%(count)s", found) : "";
    });
  });
})();
