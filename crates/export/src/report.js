// Loupe report renderer. Reads the OTLP JSON Lines embedded in
// #loupe-data and draws them. Telemetry is untrusted: text only
// (textContent), never HTML. No network: the page's CSP forbids it.
"use strict";
(function () {
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function big(s) { try { return BigInt(s || "0"); } catch (e) { return 0n; } }
  function ms(ns) { return Number(ns) / 1e6; }
  function fmtMs(v) { return v >= 1000 ? (v / 1000).toFixed(2) + " s" : v.toFixed(v < 10 ? 3 : 1) + " ms"; }
  function fmtTime(ns) { try { return new Date(Number(big(ns) / 1000000n)).toISOString(); } catch (e) { return String(ns); } }
  function anyText(v) {
    if (!v) return "";
    if ("stringValue" in v) return v.stringValue;
    if ("intValue" in v) return String(v.intValue);
    if ("doubleValue" in v) return String(v.doubleValue);
    if ("boolValue" in v) return String(v.boolValue);
    if ("bytesValue" in v) return v.bytesValue;
    return JSON.stringify(v.arrayValue || v.kvlistValue || v);
  }
  function attrMap(list) {
    var m = {};
    (list || []).forEach(function (kv) { m[kv.key] = anyText(kv.value); });
    return m;
  }
  function service(res) { return attrMap(res && res.attributes)["service.name"] || "unknown"; }
  var KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"];
  var STATUS = ["unset", "ok", "error"];
  function statusText(s) {
    var code = (s.status && s.status.code) || 0;
    return (STATUS[code] || String(code)).toUpperCase() + (s.status && s.status.message ? ": " + s.status.message : "");
  }
  function durNs(s) { return Number(big(s.endTimeUnixNano) - big(s.startTimeUnixNano)); }

  var lines = document.getElementById("loupe-data").textContent.split("\n");
  var spans = [], logs = [], metrics = [];
  lines.forEach(function (line) {
    if (!line.trim()) return;
    var req;
    try { req = JSON.parse(line); } catch (e) { return; }
    (req.resourceSpans || []).forEach(function (rs) {
      var svc = service(rs.resource);
      (rs.scopeSpans || []).forEach(function (ss) {
        (ss.spans || []).forEach(function (s) { spans.push({ s: s, svc: svc, res: rs.resource, scope: ss.scope }); });
      });
    });
    (req.resourceLogs || []).forEach(function (rl) {
      var svc = service(rl.resource);
      (rl.scopeLogs || []).forEach(function (sl) {
        (sl.logRecords || []).forEach(function (r) { logs.push({ r: r, svc: svc }); });
      });
    });
    (req.resourceMetrics || []).forEach(function (rm) {
      var svc = service(rm.resource);
      (rm.scopeMetrics || []).forEach(function (sm) {
        (sm.metrics || []).forEach(function (m) { metrics.push({ m: m, svc: svc }); });
      });
    });
  });

  var root = document.getElementById("report");
  root.appendChild(el("h1", "", "Loupe report"));
  var traces = {};
  spans.forEach(function (x) { (traces[x.s.traceId] = traces[x.s.traceId] || []).push(x); });
  var traceIds = Object.keys(traces);
  root.appendChild(el("p", "muted", traceIds.length + " traces, " + spans.length + " spans, " +
    logs.length + " log records, " + metrics.length + " metrics"));

  // Summary: services and errors.
  var bySvc = {};
  var errors = [];
  spans.forEach(function (x) {
    var b = bySvc[x.svc] = bySvc[x.svc] || { spans: 0, errors: 0 };
    b.spans++;
    if (x.s.status && x.s.status.code === 2) { b.errors++; errors.push(x); }
  });
  var summary = el("section", "summary");
  summary.id = "summary";
  summary.appendChild(el("h2", "", "Services"));
  var st = el("table");
  var hr = el("tr"); ["service", "spans", "errors"].forEach(function (h) { hr.appendChild(el("th", "", h)); });
  st.appendChild(hr);
  Object.keys(bySvc).sort().forEach(function (k) {
    var tr = el("tr");
    tr.appendChild(el("td", "", k));
    tr.appendChild(el("td", "", bySvc[k].spans));
    tr.appendChild(el("td", bySvc[k].errors ? "err" : "", bySvc[k].errors));
    st.appendChild(tr);
  });
  summary.appendChild(st);
  if (errors.length) {
    summary.appendChild(el("h3", "err", errors.length + " failed spans"));
    var ul = el("ul");
    errors.forEach(function (x) {
      ul.appendChild(el("li", "", x.svc + " · " + x.s.name + (x.s.status.message ? " — " + x.s.status.message : "")));
    });
    summary.appendChild(ul);
  }
  root.appendChild(summary);

  // Traces: tree and timeline.
  var logsBySpan = {};
  logs.forEach(function (l) { if (l.r.spanId) (logsBySpan[l.r.spanId] = logsBySpan[l.r.spanId] || []).push(l); });
  var tracesSec = el("section");
  tracesSec.id = "traces";
  tracesSec.appendChild(el("h2", "", "Traces"));
  traceIds.forEach(function (tid) {
    var list = traces[tid];
    var byId = {}, children = {};
    list.forEach(function (x) { byId[x.s.spanId] = x; });
    var roots = [];
    list.forEach(function (x) {
      var p = x.s.parentSpanId;
      if (p && byId[p]) (children[p] = children[p] || []).push(x); else roots.push(x);
    });
    function byStart(a, b) { var d = big(a.s.startTimeUnixNano) - big(b.s.startTimeUnixNano); return d < 0n ? -1 : d > 0n ? 1 : 0; }
    roots.sort(byStart);
    var t0 = list.reduce(function (m, x) { var v = big(x.s.startTimeUnixNano); return m === null || v < m ? v : m; }, null);
    var t1 = list.reduce(function (m, x) { var v = big(x.s.endTimeUnixNano); return m === null || v > m ? v : m; }, null);
    var total = Number(t1 - t0) || 1;
    var sec = el("div", "trace");
    sec.dataset.traceId = tid;
    var rootName = roots.length ? roots[0].svc + ": " + roots[0].s.name : tid;
    sec.appendChild(el("h3", "", rootName));
    sec.appendChild(el("div", "muted mono", "trace " + tid + " · " + list.length + " spans · " + fmtMs(ms(total)) + " · " + fmtTime(t0)));
    var details = el("div", "details");
    details.hidden = true;
    function show(x, row) {
      sec.querySelectorAll(".span-row.selected").forEach(function (r) { r.classList.remove("selected"); });
      row.classList.add("selected");
      details.hidden = false;
      details.textContent = "";
      details.dataset.spanId = x.s.spanId;
      details.appendChild(el("h3", "", x.s.name));
      var d = durNs(x.s);
      details.appendChild(el("div", "mono", "span " + x.s.spanId + " · " + x.svc + " · " + fmtMs(ms(d)) +
        (x.s.status && x.s.status.code === 2 ? " · ERROR " + (x.s.status.message || "") : "")));
      // The span's facts, one row each.
      var facts = el("table", "facts");
      [["service", x.svc], ["duration", fmtMs(ms(d))], ["status", statusText(x.s)],
        ["kind", KINDS[x.s.kind || 0] || String(x.s.kind)], ["start", fmtTime(x.s.startTimeUnixNano)],
        ["end", fmtTime(x.s.endTimeUnixNano)], ["scope", (x.scope && x.scope.name) || ""],
        ["trace", x.s.traceId], ["span", x.s.spanId], ["parent", x.s.parentSpanId || "(root)"]].forEach(function (f) {
        var tr = el("tr");
        tr.dataset.fact = f[0];
        tr.appendChild(el("th", "", f[0]));
        tr.appendChild(el("td", f[0] === "status" && x.s.status && x.s.status.code === 2 ? "mono err" : "mono", f[1]));
        facts.appendChild(tr);
      });
      details.appendChild(facts);
      function table(title, list) {
        if (!list || !list.length) return;
        if (title) details.appendChild(el("h3", "", title));
        var t = el("table");
        list.forEach(function (kv) {
          var tr = el("tr");
          tr.appendChild(el("td", "mono", kv.key));
          tr.appendChild(el("td", "mono", anyText(kv.value)));
          t.appendChild(tr);
        });
        details.appendChild(t);
      }
      table("Attributes", x.s.attributes);
      if (!(x.s.attributes || []).length) details.appendChild(el("div", "muted", "No span attributes."));
      (x.s.events || []).forEach(function (e) {
        var at = Number(big(e.timeUnixNano) - big(x.s.startTimeUnixNano));
        var h = el("h3", "event", "Event: " + e.name + " at +" + fmtMs(ms(at)) + " (" + fmtTime(e.timeUnixNano) + ")");
        details.appendChild(h);
        if ((e.attributes || []).length) table("", e.attributes);
      });
      (x.s.links || []).forEach(function (l) { details.appendChild(el("div", "mono", "link → trace " + l.traceId + " span " + l.spanId)); });
      table("Resource", x.res && x.res.attributes);
      var ls = logsBySpan[x.s.spanId] || [];
      if (ls.length) {
        details.appendChild(el("h3", "", "Logs"));
        ls.forEach(function (l) { details.appendChild(el("div", "mono", fmtTime(l.r.timeUnixNano || l.r.observedTimeUnixNano) + " " + (l.r.severityText || "") + " " + anyText(l.r.body))); });
      }
    }
    function draw(x, depth) {
      var row = el("div", "span-row");
      row.dataset.spanId = x.s.spanId;
      var name = el("div", "span-name");
      name.style.paddingLeft = (6 + depth * 14) + "px";
      name.appendChild(el("span", "svc", x.svc));
      name.appendChild(el("span", "", x.s.name));
      row.appendChild(name);
      // Duration and status beside the name, so the tree reads without clicks.
      row.appendChild(el("div", "span-dur mono", fmtMs(ms(durNs(x.s)))));
      var code = (x.s.status && x.s.status.code) || 0;
      row.appendChild(el("div", "span-status" + (code === 2 ? " err" : ""), (STATUS[code] || String(code)).toUpperCase()));
      var lane = el("div", "lane");
      var bar = el("div", "bar" + (x.s.status && x.s.status.code === 2 ? " error" : ""));
      var s = Number(big(x.s.startTimeUnixNano) - t0), e = Number(big(x.s.endTimeUnixNano) - t0);
      bar.style.left = (100 * s / total) + "%";
      bar.style.width = Math.max(0, 100 * (e - s) / total) + "%";
      bar.title = fmtMs(ms(e - s));
      lane.appendChild(bar);
      row.appendChild(lane);
      row.addEventListener("click", function () { show(x, row); });
      sec.appendChild(row);
      (children[x.s.spanId] || []).sort(byStart).forEach(function (c) { draw(c, depth + 1); });
    }
    roots.forEach(function (r) { draw(r, 0); });
    sec.appendChild(details);
    // Open with the details of the first failed span, else the root's.
    var first = list.filter(function (x) { return x.s.status && x.s.status.code === 2; })[0] || roots[0];
    var firstRow = first && sec.querySelector('.span-row[data-span-id="' + first.s.spanId.replace(/[^0-9a-fA-F]/g, "") + '"]');
    if (firstRow) show(first, firstRow);
    tracesSec.appendChild(sec);
  });
  root.appendChild(tracesSec);

  // Logs.
  if (logs.length) {
    var ls = el("section");
    ls.id = "logs";
    ls.appendChild(el("h2", "", "Logs"));
    var lt = el("table");
    var h = el("tr"); ["time", "severity", "service", "body", "trace / span"].forEach(function (x) { h.appendChild(el("th", "", x)); });
    lt.appendChild(h);
    logs.sort(function (a, b) { var d = big(a.r.timeUnixNano) - big(b.r.timeUnixNano); return d < 0n ? -1 : d > 0n ? 1 : 0; });
    logs.forEach(function (l) {
      var tr = el("tr");
      tr.appendChild(el("td", "mono", fmtTime(l.r.timeUnixNano || l.r.observedTimeUnixNano)));
      tr.appendChild(el("td", (l.r.severityNumber || 0) >= 17 ? "err" : "", l.r.severityText || l.r.severityNumber || ""));
      tr.appendChild(el("td", "", l.svc));
      tr.appendChild(el("td", "mono", anyText(l.r.body)));
      tr.appendChild(el("td", "mono", (l.r.traceId || "") + (l.r.spanId ? " / " + l.r.spanId : "")));
      lt.appendChild(tr);
    });
    ls.appendChild(lt);
    root.appendChild(ls);
  }

  // Metrics: drawn by Loupe's chart code when the report was written (the
  // same pictures as in the app), as static SVG after <main>; moved here.
  var charts = document.getElementById("metric-charts");
  if (charts) root.appendChild(charts);
  document.body.dataset.rendered = "true";
})();
