// OrderLedger console: the light touch of JavaScript the pages need, and nothing inline
// (the page policy allows scripts from this server only).
//  - [data-chart="ID"]: draws the Plotly figure in <script type="application/json" id="ID">;
//    a click on a point whose customdata is an address opens it (the drill-down).
//  - form[data-api]: sends the form to the API with the session's CSRF token, shows the
//    problem's detail on refusal, and reloads (or goes to data-after, where "{position}"
//    becomes the position the command wrote) on success.
//  - [data-live-source][data-live-fragment]: listens to a server-sent event stream and
//    replaces its own content with the fragment's whenever an event arrives.
//  - form[data-fill], form[data-import-report]: show what the API answered (see below).
(function () {
  "use strict";
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : null;

  // Plotly adds <style> elements (its own rules, and its map library's), which the page
  // policy refuses: its rules are in console.css, and an element with the id it looks for
  // (marked no-inline-styles) tells it not to. This runs before plotly.min.js is loaded.
  if (document.querySelector("[data-chart]")) {
    ["plotly.js-style-global",
      "9f215cf04c5486422605d13261cb87401f4e7763b6296af81e98efbc0130da53"].forEach(function (id) {
      if (document.getElementById(id)) return;
      var marker = document.createElement("meta");
      marker.id = id;
      marker.className = "no-inline-styles";
      document.head.appendChild(marker);
    });
  }

  function drawCharts() {
    if (!window.Plotly) return;
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-chart"));
      if (!source) return;
      var figure = JSON.parse(source.textContent);
      var layout = Object.assign({ margin: { t: 30, r: 10, b: 40, l: 50 }, autosize: true },
        figure.layout || {});
      window.Plotly.newPlot(el, figure.data, layout,
        { responsive: true, displaylogo: false, displayModeBar: false }).then(function () {
          el.setAttribute("data-rendered", "true");
        });
      el.on("plotly_click", function (event) {
        var point = event.points && event.points[0];
        var target = point && (point.customdata !== undefined ? point.customdata : null);
        if (Array.isArray(target)) target = target[0];
        if (typeof target === "string" && target.charAt(0) === "/") window.location = target;
      });
    });
  }

  function formBody(form) {
    var hasFile = form.querySelector('input[type="file"]');
    var data = new FormData(form);
    if (hasFile) return { body: data, type: null };
    var json = {};
    data.forEach(function (value, key) {
      if (value === "") return;
      var input = form.elements[key];
      json[key] = input && input.getAttribute("data-type") === "number" ? Number(value) : value;
    });
    return { body: JSON.stringify(json), type: "application/json" };
  }

  function wireApiForms() {
    document.querySelectorAll("form[data-api]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var out = form.querySelector(".form-error") || form.appendChild(
          Object.assign(document.createElement("p"), { className: "form-error" }));
        out.setAttribute("role", "alert");
        out.textContent = "";
        var payload = formBody(form);
        var headers = { "Accept": "application/json" };
        if (csrf) headers["X-CSRF-Token"] = csrf;
        if (payload.type) headers["Content-Type"] = payload.type;
        var button = form.querySelector('button[type="submit"], button:not([type])');
        if (button) button.disabled = true;
        fetch(form.getAttribute("data-api"), {
          method: form.getAttribute("data-method") || "POST", headers: headers,
          body: payload.body, credentials: "same-origin"
        }).then(function (response) {
          return response.text().then(function (text) {
            var body = null;
            try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
            if (!response.ok) {
              out.textContent = (body && (body.detail || body.title)) || response.statusText;
              if (body && body.errors) out.textContent += " " + JSON.stringify(body.errors);
              if (button) button.disabled = false;
              form.dispatchEvent(new CustomEvent("api:refused", { detail: body }));
              return;
            }
            form.dispatchEvent(new CustomEvent("api:done", { detail: body }));
            if (form.hasAttribute("data-keep")) { if (button) button.disabled = false; return; }
            var after = form.getAttribute("data-after");
            // "{position}" in data-after: the log position the command wrote, so the next
            // page can wait for its read models to include the change (min_position).
            if (after) after = after.replace("{position}",
              body && body.position != null ? encodeURIComponent(body.position) : "");
            if (after) window.location = after; else window.location.reload();
          });
        }).catch(function (error) {
          out.textContent = String(error);
          if (button) button.disabled = false;
        });
      });
    });
  }

  function wireLive() {
    document.querySelectorAll("[data-live-source][data-live-fragment]").forEach(function (el) {
      if (!window.EventSource) return;
      var pending = null;
      var source = new EventSource(el.getAttribute("data-live-source"));
      function refresh() {
        pending = null;
        fetch(el.getAttribute("data-live-fragment"), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) {
            if (html === null) return;
            el.innerHTML = html;
            el.setAttribute("data-live-updated", String(Date.now()));
          });
      }
      source.onmessage = function () { if (!pending) pending = setTimeout(refresh, 150); };
      source.addEventListener("open", function () { el.setAttribute("data-live", "open"); });
      // Named events (the order stream names each by its kind) refresh the content too.
      var kinds = (el.getAttribute("data-live-events") || "").split(" ");
      kinds.forEach(function (kind) {
        if (kind) source.addEventListener(kind, function () {
          if (!pending) pending = setTimeout(refresh, 150);
        });
      });
    });
  }

  // form[data-fill="ID"] (with data-keep): on success, each [data-fill-field="name"] inside
  // the element ID shows the answer's field, and the element is shown.
  function wireFills() {
    document.querySelectorAll("form[data-fill]").forEach(function (form) {
      form.addEventListener("api:done", function (event) {
        var target = document.getElementById(form.getAttribute("data-fill"));
        if (!target || !event.detail) return;
        target.querySelectorAll("[data-fill-field]").forEach(function (el) {
          var value = event.detail[el.getAttribute("data-fill-field")];
          if (value === undefined || value === null) return;
          if (el.tagName === "INPUT") el.value = String(value); else el.textContent = String(value);
        });
        target.hidden = false;
      });
    });
  }

  // form[data-import-report="ID"]: an import's report (the API's answer, or the report in
  // its refusal) drawn into the element ID, labelled from the JSON its data-labels names.
  function element(tag, text, className) {
    var el = document.createElement(tag);
    if (text !== undefined && text !== null) el.textContent = String(text);
    if (className) el.className = className;
    return el;
  }

  function drawImportReport(out, labels, report, applied) {
    out.textContent = "";
    out.setAttribute("data-outcome", applied ? "applied" : "refused");
    out.appendChild(element("h3", applied ? labels.applied : labels.refused,
      applied ? "notice" : "error"));
    var figures = element("div", null, "figures");
    ["rows", "created", "unchanged", "bad_rows"].forEach(function (name) {
      if (!applied && name === "created") return;  // nothing was created
      if (applied && name === "bad_rows" && !report.bad_rows) return;  // none skipped
      var figure = element("div", null, "figure");
      figure.setAttribute("data-figure", name);
      figure.appendChild(element("div", report[name], "value"));
      figure.appendChild(element("div", applied && name === "bad_rows" ? labels.skipped
        : labels[name], "label"));
      figures.appendChild(figure);
    });
    out.appendChild(figures);
    if (report.bad && report.bad.length) {
      var wrap = element("div", null, "table-wrap");
      var table = element("table", null, "bad-rows");
      var head = table.createTHead().insertRow();
      head.appendChild(element("th", labels.row, "num"));
      head.appendChild(element("th", labels.errors));
      var body = table.createTBody();
      report.bad.forEach(function (bad) {
        var row = body.insertRow();
        row.setAttribute("data-row", bad.row);
        row.appendChild(element("td", bad.row, "num"));
        var why = element("td", null, "wrap");
        var list = element("ul");
        (bad.errors || []).forEach(function (error) { list.appendChild(element("li", error)); });
        why.appendChild(list);
        row.appendChild(why);
      });
      wrap.appendChild(table);
      out.appendChild(wrap);
    }
    out.hidden = false;
  }

  function wireImportReports() {
    document.querySelectorAll("form[data-import-report]").forEach(function (form) {
      var out = document.getElementById(form.getAttribute("data-import-report"));
      if (!out) return;
      var source = document.getElementById(out.getAttribute("data-labels"));
      var labels = source ? JSON.parse(source.textContent) : {};
      form.addEventListener("api:done", function (event) {
        if (event.detail) drawImportReport(out, labels, event.detail, true);
      });
      form.addEventListener("api:refused", function (event) {
        var report = event.detail && event.detail.report;
        var said = form.querySelector(".form-error");
        if (report) {
          drawImportReport(out, labels, report, false);
          if (said) said.textContent = "";  // the report says it, row by row
        } else { out.textContent = ""; out.hidden = true; }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    wireApiForms();
    wireFills();
    wireImportReports();
    wireLive();
  });
})();
