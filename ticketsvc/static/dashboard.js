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
 * - Every figure people act on is a link to the view that lists it (the URL is the state:
 *   plain links, full page loads): a KPI, a breakdown bar, a keyword or signal to the
 *   ticket list with that filter (and the range and source the figure is scoped to), an
 *   at-risk customer to the customer view, a ticket chip to the ticket view.
 * - Readable at any width: charts are drawn at their container's real width (again when it
 *   changes), sizes are never negative, and a chart's labels are thinned so none overlaps.
 * - Data from the API is only ever written with textContent or as attributes: never parsed
 *   as HTML.
 * - Every figure carries data-field (and data-key / data-value for list items), so tests
 *   and people can read the exact numbers the page shows.
 */
(function () {
  "use strict";
  // The shell serves every view of the dashboard (body data-view); this script draws the overview.
  if ((document.body.dataset.view || "overview") !== "overview") { return; }

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

  // -- links to the other views ---------------------------------------------------------
  var viewBase = "/dashboard/" + enc(tenant);

  function ticketListHref(filters) {
    var query = new URLSearchParams(filters).toString();
    return viewBase + "/tickets" + (query ? "?" + query : "");
  }
  function ticketHref(id) { return viewBase + "/tickets/" + enc(id); }
  function customerHref(id) { return viewBase + "/customers/" + enc(id); }

  // The list filters a figure is scoped to: the range the stats used (its end is exclusive,
  // the list's created_to inclusive) and the source. A link's own filters come first.
  function scoped(stats, filters) {
    var all = {};
    Object.keys(filters).forEach(function (name) { all[name] = filters[name]; });
    if (stats.range.from) { all.created_from = stats.range.from; }
    if (stats.range.to) { all.created_to = new Date(Date.parse(stats.range.to) - 1).toISOString(); }
    if (stats.source && !all.source) { all.source = stats.source; }
    return all;
  }

  // Each KPI card (templates/dashboard.html, data-link="kpi:<name>"): its list filters and
  // the count of tickets it stands for (that list's total).
  var KPI_LINKS = {
    "open": [{ open: "true" }, function (s) { return s.open.total; }],
    "open_high_urgency": [{ urgency: "high", open: "true" }, function (s) { return s.open.high_urgency_count; }],
    "open_requires_action": [{ requires_action: "true", open: "true" },
                             function (s) { return s.open.requires_action_count; }],
    "total": [{}, function (s) { return s.total_tickets; }],
    "high_urgency": [{ urgency: "high" }, function (s) { return s.by_urgency.high || 0; }],
    "negative": [{ sentiment: "negative" }, function (s) { return s.by_sentiment.negative || 0; }],
    "requires_action": [{ requires_action: "true" }, function (s) { return s.requires_action_count; }]
  };

  function linkKpis(stats) {
    Object.keys(KPI_LINKS).forEach(function (name) {
      var link = document.querySelector('[data-link="kpi:' + name + '"]');
      link.href = ticketListHref(scoped(stats, KPI_LINKS[name][0]));
      link.dataset.count = String(KPI_LINKS[name][1](stats));
    });
  }

  // -- rendering ----------------------------------------------------------------------
  var shown = null; // the last figures drawn, to redraw the width-bound chart on a resize
  var shownAs = null; // ... and all that was drawn, as JSON

  // Draws the figures, unless they are what the page already shows: a refresh that changes
  // nothing (the stats' 304) leaves the page alone, the keyboard focus and the expanded
  // ticket lists included. One that does keeps the focus on the same link.
  function render(stats, runs, alerts, status) {
    var drawing = JSON.stringify([stats, runs, alerts, status]);
    if (drawing === shownAs) { return; }
    shownAs = drawing;
    var focused = document.activeElement;
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
    linkKpis(stats);

    shown = stats;
    trendChart(document.getElementById("trend-chart"), stats.hourly_trend);
    breakdown(stats, "chart-status", "by_status", ORDERS.status, "status");
    breakdown(stats, "chart-urgency", "by_urgency", ORDERS.urgency, "urgency");
    breakdown(stats, "chart-sentiment", "by_sentiment", ORDERS.sentiment, "sentiment");
    breakdown(stats, "chart-source", "by_source", ORDERS.source, "source");
    barList(document.getElementById("chart-keywords"), "top_keywords", stats.top_keywords.map(function (row) {
      return { key: row.keyword, value: row.count, cls: "keyword",
               href: ticketListHref(scoped(stats, { keyword: row.keyword })) };
    }), "No keywords matched yet.");
    // Signals: the rules' categories (refund, outage, ...); an older service's stats lack them.
    var signals = stats.top_signals;
    document.getElementById("signals-panel").hidden = !signals;
    barList(document.getElementById("chart-signals"), "top_signals", (signals || []).map(function (row) {
      return { key: row.signal, value: row.count, cls: "signal",
               href: ticketListHref(scoped(stats, { signal: row.signal })) };
    }), "No signals yet.");
    atRiskTable(stats);
    runsTable(runs);
    if (focused && !focused.isConnected && focused.dataset.link) { refocus(focused.dataset.link, focused.dataset.key); }
  }

  function refocus(link, key) {
    var nodes = document.querySelectorAll('[data-link="' + CSS.escape(link) + '"]');
    for (var i = 0; i < nodes.length; i++) {
      if (!nodes[i].hidden && (key === undefined || nodes[i].dataset.key === key)) { nodes[i].focus(); return; }
    }
  }

  function setFigure(field, value, text) {
    var nodes = document.querySelectorAll('[data-field="' + field + '"]');
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].dataset.value = String(value);
      nodes[i].textContent = text;
    }
  }

  // One breakdown (by_status, ...): the usual values in their order, then any other the
  // tenant's data holds; each bar links to the list filtered by that value (but for another
  // source than the one the page shows: its bar is an empty one, with no list to open).
  function breakdown(stats, containerId, field, order, kind) {
    var counts = stats[field];
    var keys = order.slice();
    Object.keys(counts).sort().forEach(function (key) { if (keys.indexOf(key) < 0) { keys.push(key); } });
    var total = keys.reduce(function (sum, key) { return sum + (counts[key] || 0); }, 0);
    barList(document.getElementById(containerId), field, keys.map(function (key) {
      var filter = {};
      filter[kind] = key;
      var elsewhere = kind === "source" && stats.source && key !== stats.source;
      return { key: key, value: counts[key] || 0, cls: kind + "-" + key, total: total,
               href: elsewhere ? null : ticketListHref(scoped(stats, filter)) };
    }), null);
  }

  // Horizontal bars as links, one row each: label, bar scaled to the largest, count (and
  // share). Laid out by CSS (a grid row per bar), so label, bar and count never overlap.
  function barList(container, field, rows, empty) {
    clear(container);
    if (!rows.length) {
      container.appendChild(el("p", { "class": "empty" }, empty || "Nothing yet."));
      return;
    }
    var max = Math.max.apply(null, rows.map(function (row) { return row.value; }).concat([1]));
    container.appendChild(el("ul", { "class": "bars" }, rows.map(function (row) {
      var text = formatCount(row.value);
      if (row.total) { text += " · " + Math.round(100 * row.value / row.total) + "%"; }
      var fill = el("span", { "class": "fill " + row.cls });
      // Through the CSSOM: the page's CSP refuses style attributes.
      fill.style.width = (row.value > 0 ? Math.max(1, 100 * row.value / max) : 0) + "%";
      var attrs = { "class": "bar-row", title: row.key + ": " + formatCount(row.value), "data-field": field,
                    "data-key": row.key, "data-value": String(row.value) };
      if (row.href) {
        attrs.href = row.href;
        attrs["data-link"] = field + ":" + row.key;
        attrs["data-count"] = String(row.value);
      }
      return el("li", {}, [el(row.href ? "a" : "div", attrs, [el("span", { "class": "label" }, row.key), el("span", { "class": "track" }, [fill]),
          el("span", { "class": "value" }, text)])]);
    })));
  }

  // Columns for the 24 hourly buckets, oldest first; the current hour is highlighted. Drawn
  // at the container's width in CSS pixels (1 unit = 1 px), so text keeps its size, and
  // labels are placed only where they overlap no other.
  function trendChart(container, trend) {
    clear(container);
    var width = Math.max(160, pixelWidth(container)), height = 230, left = 44, right = 8, top = 18, bottom = 30;
    var plotW = width - left - right, plotH = height - top - bottom;
    var max = niceCeiling(Math.max.apply(null, trend.map(function (b) { return b.count; }).concat([1])));
    var slot = plotW / Math.max(trend.length, 1);
    var svg = svgEl("svg", { viewBox: "0 0 " + width + " " + height, width: width, height: height, role: "img",
                             "class": "trend", "aria-label": "Tickets created per hour over the last 24 hours" });
    container.appendChild(svg); // in the document first: each label is measured as it is placed
    var labels = [];
    for (var t = 0; t <= 4; t++) {
      var value = max * t / 4;
      var y = top + plotH - plotH * t / 4;
      svg.appendChild(svgEl("line", { x1: left, x2: width - right, y1: y, y2: y, "class": t ? "grid" : "axis" }));
      if (value === Math.round(value)) {
        placeLabel(svg, labels, { x: left - 8, y: y + 4, "text-anchor": "end", "class": "tick" }, formatCount(value));
      }
    }
    var centers = trend.map(function (bucket, i) {
      var h = Math.max(0, plotH * bucket.count / max);
      var x = left + i * slot + slot * 0.15;
      var bar = svgEl("rect", { x: x, y: top + plotH - h, width: Math.max(0, slot * 0.7), height: h, rx: 2,
                                "class": "col" + (i === trend.length - 1 ? " current" : ""), "data-field": "hourly_trend",
                                "data-key": bucket.hour, "data-value": String(bucket.count) });
      bar.appendChild(svgEl("title", {}, formatHour(bucket.hour) + " UTC: " + formatCount(bucket.count) + " tickets"));
      svg.appendChild(bar);
      return { x: x + slot * 0.35, top: top + plotH - h };
    });
    // Hour labels every `step` hours counted back from "now", so the current hour always has
    // its label and the others keep a regular rhythm at any width.
    var last = trend.length - 1;
    if (last >= 0) {
      placeLabel(svg, labels, { x: centers[last].x, y: height - 10, "text-anchor": "middle", "class": "tick now" }, "now");
      var step = labelStep(svg, slot, "00:00");
      for (var i = last - step; i >= 0; i -= step) {
        placeLabel(svg, labels, { x: centers[i].x, y: height - 10, "text-anchor": "middle", "class": "tick" },
                   formatHour(trend[i].hour));
      }
    }
    // Counts above the columns, newest first, wherever there is room (the title has them all).
    for (var j = last; j >= 0; j--) {
      if (trend[j].count > 0) {
        placeLabel(svg, labels, { x: centers[j].x, y: centers[j].top - 4, "text-anchor": "middle", "class": "colvalue" },
                   formatCount(trend[j].count));
      }
    }
  }

  // Adds a text to the chart unless its box would overlap one already placed or leave the
  // chart; returns whether it did.
  function placeLabel(svg, placed, attrs, text) {
    var node = svg.appendChild(svgEl("text", attrs, text));
    var box = node.getBBox(), gap = 3, viewWidth = svg.viewBox.baseVal.width;
    var fits = box.x >= 0 && box.x + box.width <= viewWidth && placed.every(function (other) {
      return box.x + box.width + gap <= other.x || other.x + other.width + gap <= box.x ||
             box.y + box.height <= other.y || other.y + other.height <= box.y;
    });
    if (fits) { placed.push(box); } else { svg.removeChild(node); }
    return fits;
  }

  // The fewest hours between two axis labels that leaves room for a label like `sample`.
  function labelStep(svg, slot, sample) {
    var probe = svg.appendChild(svgEl("text", { "class": "tick" }, sample));
    var room = probe.getBBox().width + 8;
    svg.removeChild(probe);
    var steps = [1, 2, 3, 4, 6, 8, 12];
    for (var i = 0; i < steps.length; i++) {
      if (steps[i] * slot >= room) { return steps[i]; }
    }
    return 24;
  }

  function atRiskTable(stats) {
    var customers = stats.at_risk_customers;
    var body = document.getElementById("at-risk");
    clear(body);
    if (!customers.length) {
      body.appendChild(el("tr", {}, [el("td", { colspan: "4", "class": "empty" }, "No customer at risk.")]));
      return;
    }
    customers.forEach(function (customer) {
      var id = customer.customer_id;
      var chips = el("div", { "class": "chips" }, customer.ticket_ids.map(function (ticketId, i) {
        var link = el("a", { href: ticketHref(ticketId), "class": "chip", "data-link": "ticket",
                             "data-field": "at_risk_ticket", "data-customer": id, "data-key": ticketId }, ticketId);
        link.hidden = i >= CHIPS_SHOWN;
        return link;
      }));
      if (customer.ticket_ids.length > CHIPS_SHOWN) {
        var more = el("button", { type: "button", "class": "chip more", "aria-expanded": "false" },
                      "+" + (customer.ticket_ids.length - CHIPS_SHOWN) + " more");
        more.addEventListener("click", function () {
          var hidden = chips.querySelectorAll("a[hidden]");
          Array.prototype.forEach.call(hidden, function (a) { a.hidden = false; });
          more.remove();
          hidden[0].focus(); // the keyboard goes on where the list went on
        });
        chips.appendChild(more);
      }
      body.appendChild(el("tr", { "data-field": "at_risk_customers", "data-key": id,
                                  "data-high": String(customer.high_urgency_count),
                                  "data-negative": String(customer.negative_count) }, [
        el("td", {}, [el("a", { href: customerHref(id), "class": "customer", "data-link": "customer", "data-key": id },
                         [el("code", {}, id)])]),
        el("td", { "class": "num" }, [countLink(stats, { customer_id: id, urgency: "high" },
                                                customer.high_urgency_count, "customer_high")]),
        el("td", { "class": "num" }, [countLink(stats, { customer_id: id, sentiment: "negative" },
                                                customer.negative_count, "customer_negative")]),
        el("td", {}, [chips])
      ]));
    });
  }

  function countLink(stats, filters, count, name) {
    return el("a", { href: ticketListHref(scoped(stats, filters)), "data-link": name + ":" + filters.customer_id,
                     "data-count": String(count) }, formatCount(count));
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

  // A node's content width in CSS pixels (0 while it is not laid out).
  function pixelWidth(node) {
    var style = window.getComputedStyle(node);
    return Math.floor(node.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight)) || 0;
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
  document.getElementById("range").value = view.range;
  document.getElementById("source").value = view.source;
  document.getElementById("filters").addEventListener("change", function () {
    view = { range: document.getElementById("range").value, source: document.getElementById("source").value };
    writeView();
    load();
  });
  document.getElementById("filters").addEventListener("submit", function (event) { event.preventDefault(); });

  // The trend is drawn at its container's width: again when that changes (a rotated phone).
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(function () {
      if (shown) { trendChart(document.getElementById("trend-chart"), shown.hourly_trend); }
    }, 150);
  });

  load();
}());
