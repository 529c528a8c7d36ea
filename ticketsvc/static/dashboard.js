/*
 * The tenant dashboard (templates/dashboard.html): fetches the tenant's figures from the
 * JSON API with the caller's key and draws them, charts included, as inline SVG. No
 * library, no network beyond this service.
 *
 * - The API key and the fetch helper are api.js's (shared with the other views).
 * - The stats are fetched once per load, through the browser's HTTP cache: the endpoint's
 *   ETag and "Cache-Control: private, no-cache" make every refresh a conditional GET that
 *   answers 304, without running a pipeline, until an ingestion run ends or the hour turns.
 * - The range (24h, 7d, 30d, all) and the source are chosen on the page and kept in the
 *   address (?range=7d&source=email), so a link or a reload shows the same view. The
 *   open backlog comes first; the header says which run the figures are as of, and
 *   whether a sync is running now.
 * - Data from the API is only ever written with textContent or as attributes: never parsed
 *   as HTML.
 * - Every figure carries data-field (and data-key / data-value for list items), so tests
 *   and people can read the exact numbers the page shows.
 */
(function () {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg";
  var root = document.getElementById("dashboard");
  var tenant = root.dataset.tenant;
  var refreshMs = Math.max(5, Number(root.dataset.refreshS) || 60) * 1000;
  var enc = encodeURIComponent;
  var refreshTimer = null;

  var CHIPS_SHOWN = 6; // ticket links shown per at-risk customer before "+N more"
  var RANGE_HOURS = { "24h": 24, "7d": 7 * 24, "30d": 30 * 24, "all": null };
  var SOURCES = ["", "email", "chat", "web", "phone"];
  var view = readView();
  var ORDERS = {
    status: ["open", "pending", "resolved", "closed"],
    urgency: ["high", "medium", "low"],
    sentiment: ["negative", "neutral", "positive"],
    source: ["email", "chat", "web", "phone"]
  };

  // -- the API key and the fetch helper (api.js) ------------------------------------------
  var shared = window.TicketsvcApi;
  var api = shared.api, ApiError = shared.ApiError, readKey = shared.readKey, askForKey = shared.askForKey;

  // -- the view (range and source) ------------------------------------------------------
  function readView() {
    var params = new URLSearchParams(window.location.search);
    var range = params.get("range"), source = params.get("source") || "";
    return { range: RANGE_HOURS.hasOwnProperty(range) ? range : "all",
             source: SOURCES.indexOf(source) >= 0 ? source : "" };
  }

  function writeView() {
    var params = new URLSearchParams();
    if (view.range !== "all") { params.set("range", view.range); }
    if (view.source) { params.set("source", view.source); }
    var search = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (search ? "?" + search : ""));
  }

  function statsPath() {
    var params = new URLSearchParams();
    var hours = RANGE_HOURS[view.range];
    // The service rounds the edge down to the hour, so every load within an hour asks for
    // the same range (and gets the same ETag, hence a 304).
    if (hours) { params.set("from_date", new Date(Date.now() - hours * 3600 * 1000).toISOString()); }
    if (view.source) { params.set("source", view.source); }
    var query = params.toString();
    return "/tenants/" + enc(tenant) + "/stats" + (query ? "?" + query : "");
  }

  // -- the API ------------------------------------------------------------------------
  function tenantQuery(extra) {
    return "tenant_id=" + enc(tenant) + (extra ? "&" + extra : "");
  }

  // -- loading ------------------------------------------------------------------------
  function load() {
    window.clearTimeout(refreshTimer);
    return Promise.all([
      api(statsPath()),
      api("/ingest/logs?" + tenantQuery("page_size=8")),
      api("/notifications?" + tenantQuery("status=pending&page_size=1")),
      api("/notifications?" + tenantQuery("status=dead&page_size=1")),
      api("/ingest/status?" + tenantQuery())
    ]).then(function (results) {
      render(results[0], results[1].logs, { pending: results[2].total, dead: results[3].total }, results[4]);
      hide("notice");
      hide("key-form");
      document.body.dataset.state = "ready";
      refreshTimer = window.setTimeout(load, refreshMs);
    }, function (error) {
      if (error instanceof ApiError && error.status === 401) {
        askForKey(readKey() ? "That API key was not accepted." : null);
      } else if (error instanceof ApiError && error.status === 403) {
        notice("This API key may not read tenant " + tenant + ". Use a key of this tenant, or an admin key.");
        document.body.dataset.state = "forbidden";
      } else {
        notice("Could not load the figures: " + (error && error.message ? error.message : error) +
               ". Retrying in " + Math.round(refreshMs / 1000) + " s.");
        document.body.dataset.state = "error";
        refreshTimer = window.setTimeout(load, refreshMs);
      }
    });
  }

  // -- rendering ----------------------------------------------------------------------
  function render(stats, runs, alerts, status) {
    setFigure("generated_at", stats.generated_at, formatTime(stats.generated_at));
    var run = stats.as_of_run;
    setFigure("as_of_run", run ? run.job_id : "",
              run ? "as of the run that ended " + formatEnded(run.ended_at, stats.generated_at) + " UTC"
                  : "no complete ingestion run yet");
    setFigure("sync_running", String(Boolean(status.running)), status.running ? "a sync is running now" : "no sync running");
    setFigure("range.from", stats.range.from || "", stats.range.from ? formatTime(stats.range.from) : "the first ticket");
    setFigure("range.to", stats.range.to || "", stats.range.to ? formatTime(stats.range.to) : "now");
    setFigure("open.total", stats.open.total, formatCount(stats.open.total));
    setFigure("open.high_urgency_count", stats.open.high_urgency_count, formatCount(stats.open.high_urgency_count));
    setFigure("open.requires_action_count", stats.open.requires_action_count,
              formatCount(stats.open.requires_action_count));
    setFigure("total_tickets", stats.total_tickets, formatCount(stats.total_tickets));
    setFigure("urgency_high_ratio", stats.urgency_high_ratio, formatRatio(stats.urgency_high_ratio));
    setFigure("negative_sentiment_ratio", stats.negative_sentiment_ratio, formatRatio(stats.negative_sentiment_ratio));
    setFigure("high_urgency_count", stats.by_urgency.high || 0, formatCount(stats.by_urgency.high || 0));
    setFigure("negative_count", stats.by_sentiment.negative || 0, formatCount(stats.by_sentiment.negative || 0));
    setFigure("requires_action_count", stats.requires_action_count, formatCount(stats.requires_action_count));
    setFigure("alerts.pending", alerts.pending, formatCount(alerts.pending));
    setFigure("alerts.dead", alerts.dead, formatCount(alerts.dead));

    trendChart(document.getElementById("trend-chart"), stats.hourly_trend);
    breakdown("chart-status", "by_status", stats.by_status, ORDERS.status, "status");
    breakdown("chart-urgency", "by_urgency", stats.by_urgency, ORDERS.urgency, "urgency");
    breakdown("chart-sentiment", "by_sentiment", stats.by_sentiment, ORDERS.sentiment, "sentiment");
    breakdown("chart-source", "by_source", stats.by_source, ORDERS.source, "source");
    barChart(document.getElementById("chart-keywords"), "top_keywords", stats.top_keywords.map(function (row) {
      return { key: row.keyword, label: row.keyword, value: row.count, cls: "keyword" };
    }), { labelWidth: 150, empty: "No keywords matched yet." });
    atRiskTable(stats.at_risk_customers);
    runsTable(runs);
  }

  function setFigure(field, value, text) {
    var nodes = document.querySelectorAll('[data-field="' + field + '"]');
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].dataset.value = String(value);
      nodes[i].textContent = text;
    }
  }

  function breakdown(containerId, field, counts, order, kind) {
    var keys = order.slice();
    Object.keys(counts).sort().forEach(function (key) { if (keys.indexOf(key) < 0) { keys.push(key); } });
    var total = keys.reduce(function (sum, key) { return sum + (counts[key] || 0); }, 0);
    barChart(document.getElementById(containerId), field, keys.map(function (key) {
      return { key: key, label: key, value: counts[key] || 0, cls: kind + "-" + key, total: total };
    }), { labelWidth: 78, empty: null });
  }

  // Horizontal bars: one row per item, label, bar scaled to the largest, count (and share).
  function barChart(container, field, rows, options) {
    clear(container);
    if (!rows.length) {
      container.appendChild(el("p", { "class": "empty" }, options.empty || "Nothing yet."));
      return;
    }
    // Drawn at the container's own width, so text keeps its real size in any column.
    var width = pixelWidth(container, 420), rowHeight = 26, labelWidth = options.labelWidth, valueWidth = 84;
    var barWidth = width - labelWidth - valueWidth;
    var max = Math.max.apply(null, rows.map(function (row) { return row.value; }).concat([1]));
    var svg = svgEl("svg", { viewBox: "0 0 " + width + " " + rows.length * rowHeight, role: "img",
                             "class": "bars", preserveAspectRatio: "xMinYMin meet" });
    rows.forEach(function (row, i) {
      var y = i * rowHeight;
      var g = svgEl("g", { "data-field": field, "data-key": row.key, "data-value": String(row.value) });
      g.appendChild(svgEl("title", {}, row.label + ": " + formatCount(row.value)));
      g.appendChild(svgEl("text", { x: 0, y: y + 17, "class": "label" }, truncate(row.label, 22)));
      g.appendChild(svgEl("rect", { x: labelWidth, y: y + 5, width: barWidth, height: 16, rx: 3, "class": "track" }));
      var w = row.value > 0 ? Math.max(2, barWidth * row.value / max) : 0;
      g.appendChild(svgEl("rect", { x: labelWidth, y: y + 5, width: w, height: 16, rx: 3, "class": "bar " + (row.cls || "") }));
      var text = formatCount(row.value);
      if (row.total) { text += " · " + Math.round(100 * row.value / row.total) + "%"; }
      g.appendChild(svgEl("text", { x: width, y: y + 17, "class": "value", "text-anchor": "end" }, text));
      svg.appendChild(g);
    });
    container.appendChild(svg);
  }

  // Columns for the 24 hourly buckets, oldest first; the current hour is highlighted.
  function trendChart(container, trend) {
    clear(container);
    var width = pixelWidth(container, 1160), height = 230, left = 44, right = 8, top = 16, bottom = 30;
    var plotW = width - left - right, plotH = height - top - bottom;
    var max = niceCeiling(Math.max.apply(null, trend.map(function (b) { return b.count; }).concat([1])));
    var slot = plotW / Math.max(trend.length, 1);
    var svg = svgEl("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "class": "trend",
                             "aria-label": "Tickets created per hour over the last 24 hours" });
    for (var t = 0; t <= 4; t++) {
      var value = max * t / 4;
      var y = top + plotH - plotH * t / 4;
      svg.appendChild(svgEl("line", { x1: left, x2: width - right, y1: y, y2: y, "class": t ? "grid" : "axis" }));
      if (value === Math.round(value)) {
        svg.appendChild(svgEl("text", { x: left - 8, y: y + 4, "text-anchor": "end", "class": "tick" }, formatCount(value)));
      }
    }
    trend.forEach(function (bucket, i) {
      var h = plotH * bucket.count / max;
      var x = left + i * slot + slot * 0.15;
      var current = i === trend.length - 1;
      var bar = svgEl("rect", { x: x, y: top + plotH - h, width: slot * 0.7, height: h, rx: 2,
                                "class": "col" + (current ? " current" : ""), "data-field": "hourly_trend",
                                "data-key": bucket.hour, "data-value": String(bucket.count) });
      bar.appendChild(svgEl("title", {}, formatHour(bucket.hour) + " UTC: " + formatCount(bucket.count) + " tickets"));
      svg.appendChild(bar);
      if (bucket.count > 0) {
        svg.appendChild(svgEl("text", { x: x + slot * 0.35, y: top + plotH - h - 4, "text-anchor": "middle",
                                        "class": "colvalue" }, formatCount(bucket.count)));
      }
      if (i % 3 === 0 || current) {
        svg.appendChild(svgEl("text", { x: x + slot * 0.35, y: height - 10, "text-anchor": "middle",
                                        "class": "tick" + (current ? " now" : "") },
                              current ? "now" : formatHour(bucket.hour)));
      }
    });
    container.appendChild(svg);
  }

  function atRiskTable(customers) {
    var body = document.getElementById("at-risk");
    clear(body);
    if (!customers.length) {
      body.appendChild(el("tr", {}, [el("td", { colspan: "4", "class": "empty" }, "No customer at risk.")]));
      return;
    }
    customers.forEach(function (customer) {
      var links = el("td", { "class": "chips" }, customer.ticket_ids.map(function (id, i) {
        var link = el("a", { href: "/tickets/" + enc(id) + "?" + tenantQuery(), "class": "chip",
                             "data-field": "at_risk_ticket", "data-customer": customer.customer_id, "data-key": id }, id);
        link.hidden = i >= CHIPS_SHOWN;
        link.addEventListener("click", function (event) {
          event.preventDefault(); // the JSON needs the key: show it here instead
          showTicket(id);
        });
        return link;
      }));
      if (customer.ticket_ids.length > CHIPS_SHOWN) {
        var more = el("button", { type: "button", "class": "chip more" },
                      "+" + (customer.ticket_ids.length - CHIPS_SHOWN) + " more");
        more.addEventListener("click", function () {
          Array.prototype.forEach.call(links.querySelectorAll("a[hidden]"), function (a) { a.hidden = false; });
          more.remove();
        });
        links.appendChild(more);
      }
      body.appendChild(el("tr", { "data-field": "at_risk_customers", "data-key": customer.customer_id,
                                  "data-high": String(customer.high_urgency_count),
                                  "data-negative": String(customer.negative_count) }, [
        el("td", {}, [el("code", {}, customer.customer_id)]),
        el("td", { "class": "num" }, formatCount(customer.high_urgency_count)),
        el("td", { "class": "num" }, formatCount(customer.negative_count)),
        links
      ]));
    });
  }

  function runsTable(runs) {
    var body = document.getElementById("runs");
    clear(body);
    if (!runs.length) {
      body.appendChild(el("tr", {}, [el("td", { colspan: "9", "class": "empty" }, "No ingestion run yet.")]));
      return;
    }
    runs.forEach(function (run) {
      var counts = run.counts || {};
      var pages = run.total_pages ? run.processed_pages + " / " + run.total_pages : String(run.processed_pages || 0);
      body.appendChild(el("tr", { "data-field": "runs", "data-key": run.job_id, "data-status": run.status }, [
        el("td", {}, formatTime(run.started_at)),
        el("td", {}, run.trigger || ""),
        el("td", {}, [el("span", { "class": "badge run-" + run.status }, run.status +
                         (run.status === "running" ? " " + (run.progress || 0) + "%" : ""))]),
        el("td", { "class": "num" }, run.duration_s == null ? "–" : formatDuration(run.duration_s)),
        el("td", { "class": "num" }, pages),
        el("td", { "class": "num" }, formatCount(counts["new"] || 0)),
        el("td", { "class": "num" }, formatCount(counts.updated || 0)),
        el("td", { "class": "num" }, formatCount(counts.deleted || 0)),
        el("td", { "class": "error" }, run.error || "")
      ]));
    });
  }

  function showTicket(id) {
    var panel = document.getElementById("ticket-panel");
    document.getElementById("ticket-title").textContent = id;
    var fields = document.getElementById("ticket-fields");
    clear(fields);
    document.getElementById("ticket-message").textContent = "Loading…";
    panel.hidden = false;
    api("/tickets/" + enc(id) + "?" + tenantQuery()).then(function (ticket) {
      [["Subject", ticket.subject], ["Customer", ticket.customer_id], ["Status", ticket.status],
       ["Urgency", ticket.urgency], ["Sentiment", ticket.sentiment], ["Source", ticket.source],
       ["Requires action", ticket.requires_action ? "yes" : "no"],
       ["Keywords", (ticket.keywords || []).join(", ") || "–"],
       ["Created", formatTime(ticket.created_at)], ["Updated", formatTime(ticket.updated_at)]
      ].forEach(function (pair) {
        fields.appendChild(el("dt", {}, pair[0]));
        fields.appendChild(el("dd", {}, pair[1] == null ? "–" : String(pair[1])));
      });
      document.getElementById("ticket-message").textContent = ticket.message || "";
    }, function (error) {
      document.getElementById("ticket-message").textContent =
        error && error.status === 404 ? "This ticket is gone (deleted upstream)." : "Could not load the ticket.";
    });
  }

  // -- small helpers ------------------------------------------------------------------
  function el(tag, attrs, children) { return build(document.createElement(tag), attrs, children); }
  function svgEl(tag, attrs, children) { return build(document.createElementNS(SVG_NS, tag), attrs, children); }

  function build(node, attrs, children) {
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, String(attrs[name])); });
    if (typeof children === "string") {
      node.textContent = children;
    } else if (children) {
      children.forEach(function (child) { node.appendChild(child); });
    }
    return node;
  }

  function pixelWidth(node, fallback) {
    var width = Math.round(node.getBoundingClientRect().width);
    return width > 100 ? width : fallback;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function hide(id) { document.getElementById(id).hidden = true; }

  function notice(text) {
    var box = document.getElementById("notice");
    box.textContent = text;
    box.hidden = false;
  }

  function formatCount(n) { return Number(n || 0).toLocaleString("en-US"); }
  function formatRatio(r) { return (100 * Number(r || 0)).toFixed(1) + "%"; }
  // "2026-03-01T14:05:09Z" -> "2026-03-01 14:05"
  function formatTime(iso) { return iso ? String(iso).slice(0, 16).replace("T", " ") : "–"; }
  function formatHour(iso) { return String(iso).slice(11, 16); }
  // "12:04" on the day of ``today`` (an ISO time), else "2026-03-01 12:04".
  function formatEnded(iso, today) {
    return String(iso).slice(0, 10) === String(today).slice(0, 10) ? formatHour(iso) : formatTime(iso);
  }
  function truncate(text, n) { text = String(text); return text.length > n ? text.slice(0, n - 1) + "…" : text; }

  function formatDuration(seconds) {
    if (seconds < 60) { return seconds.toFixed(1) + " s"; }
    return Math.floor(seconds / 60) + " min " + Math.round(seconds % 60) + " s";
  }

  function niceCeiling(n) {
    var magnitude = Math.pow(10, Math.floor(Math.log10(n)));
    var steps = [1, 2, 4, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * magnitude >= n) { return steps[i] * magnitude; }
    }
    return 10 * magnitude;
  }

  // -- wiring -------------------------------------------------------------------------
  shared.onKeyChange(function (key) {
    window.clearTimeout(refreshTimer);
    if (key) { load(); }
  });
  document.getElementById("ticket-close").addEventListener("click", function () { hide("ticket-panel"); });
  document.getElementById("range").value = view.range;
  document.getElementById("source").value = view.source;
  document.getElementById("filters").addEventListener("change", function () {
    view = { range: document.getElementById("range").value, source: document.getElementById("source").value };
    writeView();
    load();
  });
  document.getElementById("filters").addEventListener("submit", function (event) { event.preventDefault(); });

  load();
}());
