(function () {
  "use strict";
  // The page's own part: a tenant report holds one such page per organization, each with the
  // same ids, so look only inside the element this script sits in.
  var root = (document.currentScript && document.currentScript.parentNode) || document;
  // In a tenant report, the organization's section says the prefix its ids carry.
  var prefix = (root.getAttribute && root.getAttribute("data-id-prefix")) || "";
  function byId(id) { return root.querySelector("#" + prefix + id); }
  var table = byId("findings-table");
  if (!table || !table.tBodies.length) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
  rows.forEach(function (row, i) { row.setAttribute("data-order", i); });
  var headers = table.tHead.rows[0].cells;
  function key(row, col) {
    var cell = row.cells[col];
    var value = cell.getAttribute("data-sort");
    return value !== null ? value : cell.textContent.trim().toLowerCase();
  }
  function sortBy(col) {
    var th = headers[col];
    var numeric = th.getAttribute("data-type") === "num";
    var current = th.getAttribute("aria-sort");
    var dir = current === "ascending" ? -1 : current === "descending" ? 1 : (th.getAttribute("data-first") === "descending" ? -1 : 1);
    for (var i = 0; i < headers.length; i++) { headers[i].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    rows.sort(function (a, b) {
      var x = key(a, col), y = key(b, col);
      var c = numeric ? parseFloat(x) - parseFloat(y) : (x < y ? -1 : x > y ? 1 : 0);
      return c * dir || a.getAttribute("data-order") - b.getAttribute("data-order");
    });
    var fragment = document.createDocumentFragment();
    rows.forEach(function (row) { fragment.appendChild(row); });
    body.appendChild(fragment);
  }
  Array.prototype.forEach.call(headers, function (th, col) {
    th.tabIndex = 0;
    th.title = "Sort by " + th.textContent.trim().toLowerCase();
    th.addEventListener("click", function () { sortBy(col); });
    th.addEventListener("keydown", function (event) {
      if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortBy(col); }
    });
  });
  var text = byId("filter-text");
  var severity = byId("filter-severity");
  var accepted = byId("filter-suppressed");
  var count = byId("filter-count");
  function filter() {
    var query = text.value.trim().toLowerCase();
    var wanted = severity.value;
    var shown = 0;
    rows.forEach(function (row, i) {
      var visible = (!wanted || row.getAttribute("data-severity") === wanted) &&
        (accepted.checked || row.getAttribute("data-suppressed") !== "true") &&
        (!query || texts[i].indexOf(query) !== -1);
      row.hidden = !visible;
      if (visible) { shown += 1; }
    });
    count.textContent = shown + " of " + rows.length + " findings shown";
  }
  text.addEventListener("input", filter);
  severity.addEventListener("change", filter);
  accepted.addEventListener("change", filter);
  byId("finding-controls").hidden = false;
  filter();
})();
