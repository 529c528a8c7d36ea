/*
 * The dashboard's header on every view (the tenant switcher) and the views behind the
 * overview (templates/dashboard.html, <body data-view="...">):
 *
 * - tickets  /dashboard/T/tickets?<filters>: search, filters, paging and export. The query
 *   string is GET /tickets' own, handed to the API as it is: the URL is the whole state.
 * - ticket   /dashboard/T/tickets/<id>: its fields, classification, alerts and history.
 * - customer /dashboard/T/customers/<id>: counts by urgency and sentiment, and their tickets.
 *
 * Everything is a plain link or a GET form, so a view can be shared, reloaded, opened in a
 * new tab, and the back button works. The key is api.js's (sessionStorage), never in a URL.
 * Data is written with textContent or as attributes only, never parsed as HTML: a ticket's
 * text is whatever a customer wrote.
 */
(function () {
  "use strict";

  var shared = window.TicketsvcApi;
  var api = shared.api, ApiError = shared.ApiError;
  var body = document.body;
  var tenant = body.dataset.tenant;
  var enc = encodeURIComponent;

  var URGENCIES = ["high", "medium", "low"];
  var SENTIMENTS = ["negative", "neutral", "positive"];
  var HISTORY_PAGE_SIZE = 10;
  var ALERTS_SHOWN = 20;
  var TENANTS_LISTED = 100; // the switcher lists the first 100 tenants (the API's largest page)
  var LAST_LIST = "ticketsvc.lastList"; // where "Back to the list" goes
  // Shown as removable chips rather than as form fields: set by following a link.
  var CHIP_FILTERS = { keyword: "keyword", signal: "signal" };

  // -- the dashboard's URLs ---------------------------------------------------------------
  function viewUrl(tenantId, rest, params) {
    var search = params ? params.toString() : "";
    return "/dashboard/" + enc(tenantId) + (rest || "") + (search ? "?" + search : "");
  }
  function listUrl(params) { return viewUrl(tenant, "/tickets", params); }
  function ticketUrl(id) { return viewUrl(tenant, "/tickets/" + enc(id)); }
  function customerUrl(id) { return viewUrl(tenant, "/customers/" + enc(id)); }

  function paramsOf(object) {
    var params = new URLSearchParams();
    Object.keys(object).forEach(function (name) { params.set(name, object[name]); });
    return params;
  }

  function without(params, names) {
    var copy = new URLSearchParams(params);
    names.forEach(function (name) { copy.delete(name); });
    return copy;
  }

  function apiPath(path, params) {
    var all = new URLSearchParams(params);
    all.set("tenant_id", tenant);
    return path + "?" + all.toString();
  }

  // -- building the page (text only) ------------------------------------------------------
  // el("a", {href: ...}, "text", node, ...): children are strings (text) or nodes; null skipped.
  function el(tag, attrs) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (attrs[name] != null) { node.setAttribute(name, String(attrs[name])); }
    });
    for (var i = 2; i < arguments.length; i++) { append(node, arguments[i]); }
    return node;
  }

  function append(node, child) {
    if (child == null) { return; }
    if (Array.isArray(child)) { child.forEach(function (c) { append(node, c); }); return; }
    node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function byId(id) { return document.getElementById(id); }

  function fill(node, children) {
    clear(node);
    append(node, children);
  }

  function setField(field, value, text) {
    Array.prototype.forEach.call(document.querySelectorAll('[data-field="' + field + '"]'), function (node) {
      node.dataset.value = String(value);
      fill(node, text === undefined ? String(value) : text);
    });
  }

  // An id as text with line-break opportunities after its separators, so a long id wraps
  // at "-", "_", "/", "." or ":" rather than mid-word.
  function idText(id) {
    var parts = String(id).split(/([-_/.:])/);
    var nodes = [];
    for (var i = 0; i < parts.length; i++) {
      if (parts[i]) { nodes.push(parts[i]); }
      if (i % 2 === 1) { nodes.push(document.createElement("wbr")); }
    }
    return el("span", { "class": "id" }, nodes);
  }

  function badge(kind, value) {
    return value == null ? null : el("span", { "class": "badge " + kind + "-" + value }, String(value));
  }

  function chip(href, label, field) {
    return el("a", { "class": "chip", href: href, "data-field": field, "data-key": label, title: label }, label);
  }

  function timeText(iso) {
    return iso ? el("time", { datetime: iso }, String(iso).slice(0, 16).replace("T", " ")) : "–";
  }

  function count(n) { return Number(n || 0).toLocaleString("en-US"); }
  function plural(n, one, many) { return count(n) + " " + (n === 1 ? one : many); }

  // -- errors -----------------------------------------------------------------------------
  function notice(message) {
    var box = byId("notice");
    box.textContent = message;
    box.hidden = false;
  }

  function failed(error) {
    if (error instanceof ApiError && error.status === 401) {
      shared.askForKey(shared.readKey() ? "That API key was not accepted." : null);
    } else if (error instanceof ApiError && error.status === 403) {
      notice("This API key may not read tenant " + tenant + ". Use a key of this tenant, or an admin key.");
      body.dataset.state = "forbidden";
    } else if (error instanceof ApiError && error.status === 422) {
      notice("The address asks for something the API refuses: " + error.message + ".");
      body.dataset.state = "error";
    } else {
      notice("Could not load this view: " + (error && error.message ? error.message : error) + ". Reload to try again.");
      body.dataset.state = "error";
    }
  }

  function ready() {
    byId("notice").hidden = true;
    byId("key-form").hidden = true;
    body.dataset.state = "ready";
  }

  // -- the header: the tenant switcher ----------------------------------------------------
  // The same view of another tenant: the ticket list keeps its filters but the customer's
  // (ids are per tenant); a ticket or a customer becomes the other tenant's ticket list.
  function switchUrl(other) {
    var params = new URLSearchParams(window.location.search);
    if (body.dataset.view === "overview") { return viewUrl(other, "", params); }
    if (body.dataset.view === "tickets") { return viewUrl(other, "/tickets", without(params, ["customer_id", "page"])); }
    return viewUrl(other, "/tickets");
  }

  function loadTenants() {
    var form = byId("tenant-switch");
    return api("/tenants?page_size=" + TENANTS_LISTED).then(function (answer) {
      var select = byId("tenant-select");
      clear(select);
      answer.tenants.forEach(function (row) {
        append(select, el("option", { value: row.tenant_id }, row.tenant_id));
      });
      select.value = tenant;
      form.hidden = answer.tenants.length < 2;
    }, function () {
      form.hidden = true; // the key cannot list tenants: nothing to switch to
    });
  }

  byId("tenant-switch").addEventListener("submit", function (event) {
    event.preventDefault();
    var other = byId("tenant-select").value;
    if (other && other !== tenant) { window.location.assign(switchUrl(other)); }
  });

  // -- a table of tickets (the list and the customer view) --------------------------------
  var COLUMNS = ["Created", "Ticket", "Customer", "Urgency", "Sentiment", "Action", "Status", "Source"];

  function ticketTable(tickets) {
    var rows = tickets.map(function (ticket) {
      var cells = [
        timeText(ticket.created_at),
        el("a", { "class": "ticket-link", href: ticketUrl(ticket.id) }, idText(ticket.id),
           el("span", { "class": "subject" }, ticket.subject || "(no subject)")),
        ticket.customer_id ? el("a", { href: customerUrl(ticket.customer_id) }, idText(ticket.customer_id)) : "–",
        badge("urgency", ticket.urgency),
        badge("sentiment", ticket.sentiment),
        ticket.requires_action ? el("span", { "class": "badge action" }, "required") : "–",
        ticket.status || "–",
        ticket.source || "–"
      ];
      return el("tr", { "data-field": "tickets.row", "data-key": ticket.id, "data-urgency": ticket.urgency,
                        "data-customer": ticket.customer_id },
                cells.map(function (cell, i) {
                  return el("td", { "data-label": COLUMNS[i], "class": "col-" + COLUMNS[i].toLowerCase() }, cell);
                }));
    });
    return el("table", { "class": "table tickets" },
              el("thead", {}, el("tr", {}, COLUMNS.map(function (name) { return el("th", { scope: "col" }, name); }))),
              el("tbody", {}, rows));
  }

  // Previous (page - 1) and next (the API's `next`, its query moved onto this view's path).
  function pager(answer, params, urlOf) {
    var page = answer.page, pages = Math.max(1, Math.ceil(answer.total / answer.page_size));
    var prev = byId("page-prev"), next = byId("page-next");
    prev.hidden = page <= 1;
    if (page > 1) {
      var earlier = new URLSearchParams(params);
      if (page - 1 > 1) { earlier.set("page", String(page - 1)); } else { earlier.delete("page"); }
      prev.setAttribute("href", urlOf(earlier));
    }
    next.hidden = !answer.next;
    if (answer.next) {
      var later = new URLSearchParams(answer.next.split("?")[1] || "");
      later.delete("tenant_id");
      next.setAttribute("href", urlOf(later));
    }
    setField("tickets.page", page, answer.total ? "Page " + count(page) + " of " + count(pages) : "");
  }

  function showTickets(answer, params, urlOf, emptyText) {
    var container = byId("ticket-rows");
    if (answer.tickets.length) {
      fill(container, ticketTable(answer.tickets));
    } else {
      fill(container, el("p", { "class": "empty", "data-field": "tickets.empty" }, emptyText));
    }
    pager(answer, params, urlOf);
  }

  // -- the ticket list ----------------------------------------------------------------------
  function listView() {
    var params = new URLSearchParams(window.location.search);
    var form = byId("ticket-filters");
    var set = 0;
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || !params.has(field.name)) { return; }
      var value = params.get(field.name);
      field.value = value;
      // A date-time (an overview figure's range) does not fit a date field: keep it as text,
      // so a new search keeps it too.
      if (field.value !== value && field.type === "date") {
        field.type = "text";
        field.value = value;
      }
      if (field.closest("#more-filters")) { set += 1; }
    });
    setField("filters.count", set, set ? "(" + set + " set)" : "");
    byId("more-filters").open = set > 0 || window.matchMedia("(min-width: 721px)").matches;
    filterChips(params);
    exportLinks(params);
    remember(window.location.pathname + window.location.search);

    return api(apiPath("/tickets", params)).then(function (answer) {
      setField("tickets.total", answer.total, plural(answer.total, "ticket", "tickets"));
      var filtered = without(params, ["page", "page_size"]).toString() !== "";
      showTickets(answer, params, listUrl, filtered ? "No ticket matches these filters." : "No tickets yet.");
      ready();
    });
  }

  // Only the fields that hold something: an empty one would be an empty filter, which the
  // API refuses (and which means nothing). A new search starts again at page 1.
  function submittedParams(form) {
    var params = new URLSearchParams();
    Array.prototype.forEach.call(form.elements, function (field) {
      var value = field.name ? field.value.trim() : "";
      if (value) { params.set(field.name, value); }
    });
    return params;
  }

  function filterChips(params) {
    var box = byId("filter-chips");
    var chips = [];
    Object.keys(CHIP_FILTERS).forEach(function (name) {
      if (!params.has(name)) { return; }
      var rest = without(params, [name, "page"]);
      chips.push(el("span", { "class": "chip filter-chip", "data-field": "filter." + name, "data-key": params.get(name) },
                    CHIP_FILTERS[name] + ": " + params.get(name),
                    el("a", { href: listUrl(rest), "class": "remove", "aria-label": "Remove the " + name + " filter",
                              title: "Remove this filter" }, "×")));
    });
    fill(box, chips);
    box.hidden = !chips.length;
  }

  // -- export: the same filters, every page ---------------------------------------------------
  function exportLinks(params) {
    var filters = without(params, ["page", "page_size"]);
    ["csv", "ndjson"].forEach(function (format) {
      var link = byId("export-" + format);
      var query = new URLSearchParams(filters);
      query.set("format", format);
      link.setAttribute("href", apiPath("/tickets/export", query));
      link.addEventListener("click", function (event) {
        // A plain link cannot send the bearer key: with a key, fetch the export and hand the
        // browser the bytes. (It is held in memory until saved: for a very large export use
        // curl with the key, as the README shows.)
        if (!shared.readKey()) { return; }
        event.preventDefault();
        download(link.getAttribute("href"), "tickets-" + tenant + "." + format);
      });
    });
  }

  function download(path, filename) {
    var status = byId("export-status");
    status.textContent = "preparing " + filename + "…";
    shared.fetchWithKey(path, "*/*").then(function (response) { return response.blob(); }).then(function (blob) {
      var url = URL.createObjectURL(blob);
      var link = el("a", { href: url, download: filename, hidden: "" });
      body.appendChild(link);
      link.click();
      link.remove();
      window.setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
      status.textContent = filename + " saved (" + count(blob.size) + " bytes)";
    }, function (error) {
      status.textContent = "the export failed: " + (error && error.message ? error.message : error);
    });
  }

  function remember(url) {
    try { window.sessionStorage.setItem(LAST_LIST, url); } catch (e) { /* the plain list then */ }
  }

  function lastList() {
    var url = null;
    try { url = window.sessionStorage.getItem(LAST_LIST); } catch (e) { /* none */ }
    return url && url.indexOf(listUrl()) === 0 ? url : listUrl();
  }

  // -- one ticket -------------------------------------------------------------------------------
  function ticketView() {
    var id = body.dataset.ticket;
    var historyPage = Math.max(1, parseInt(new URLSearchParams(window.location.search).get("history_page"), 10) || 1);
    byId("back-to-list").setAttribute("href", lastList());
    var ticket = api(apiPath("/tickets/" + enc(id))).catch(function (error) {
      if (error instanceof ApiError && error.status === 404) { return null; } // deleted, or never existed
      throw error;
    });
    var history = api(apiPath("/tickets/" + enc(id) + "/history", paramsOf({ page: historyPage, page_size: HISTORY_PAGE_SIZE })))
      .catch(function (error) {
        if (error instanceof ApiError && error.status === 404) { return null; } // this tenant never had it
        throw error;
      });
    var alerts = api(apiPath("/notifications", paramsOf({ ticket_id: id, page_size: ALERTS_SHOWN })));
    return Promise.all([ticket, history, alerts]).then(function (results) {
      if (!results[0] && !results[1]) {
        notice("Tenant " + tenant + " has no ticket " + id + ".");
        body.dataset.state = "not-found";
        return;
      }
      if (results[0]) {
        showTicket(results[0]);
      } else {
        showDeleted(results[1]);
      }
      showHistory(results[1], historyPage);
      showAlerts(results[2]);
      ready();
    });
  }

  function showTicket(ticket) {
    byId("ticket").hidden = false;
    setField("ticket.subject", ticket.subject || "", ticket.subject || "(no subject)");
    setField("ticket.message", ticket.message || "", ticket.message || "(no message)");
    fill(byId("ticket-badges"), [
      badge("urgency", ticket.urgency), " ", badge("sentiment", ticket.sentiment), " ",
      el("span", { "class": "badge " + (ticket.requires_action ? "action" : "no-action"), "data-field": "ticket.requires_action",
                   "data-value": String(Boolean(ticket.requires_action)) },
         ticket.requires_action ? "requires action" : "no action required")
    ]);
    var rows = [
      ["Customer", ticket.customer_id ? el("a", { href: customerUrl(ticket.customer_id), "data-field": "ticket.customer" },
                                           idText(ticket.customer_id)) : "–"],
      ["Status", ticket.status || "–"], ["Source", ticket.source || "–"],
      ["Created", timeText(ticket.created_at)], ["Updated", timeText(ticket.updated_at)],
      ["First stored", timeText(ticket.ingested_at)], ["Last synced", timeText(ticket.synced_at)]
    ];
    fill(byId("ticket-fields"), rows.map(function (row) { return [el("dt", {}, row[0]), el("dd", {}, row[1])]; }));

    var classification = ticket.classification || {};
    byId("ticket-classification").hidden = false;
    setField("ticket.version", classification.version || "", classification.version ? "version " + classification.version : "");
    fill(byId("ticket-keywords"), (ticket.keywords || []).length ? ticket.keywords.map(function (word) {
      return chip(listUrl(paramsOf({ keyword: word })), word, "ticket.keyword");
    }) : el("span", { "class": "empty" }, "none"));
    // A ticket stored before signals were (until its reclassification) has none: no block.
    byId("ticket-signals-block").hidden = !ticket.signals;
    fill(byId("ticket-signals"), (ticket.signals || []).length ? ticket.signals.map(function (signal) {
      return chip(listUrl(paramsOf({ signal: signal })), signal, "ticket.signal");
    }) : el("span", { "class": "empty" }, "none"));
    fill(byId("ticket-reasons"), (classification.reasons || []).length ? classification.reasons.map(function (reason) {
      return el("li", { "data-field": "ticket.reason" }, reason);
    }) : el("li", { "class": "empty" }, "No reasons recorded."));
  }

  function showDeleted(history) {
    var deletion = history.history.filter(function (entry) { return entry.action === "deleted"; })[0];
    var box = byId("ticket-deleted");
    box.hidden = false;
    box.dataset.field = "ticket.deleted";
    fill(box, ["This ticket was deleted",
               deletion ? [" on ", timeText(deletion.recorded_at), deletion.reason ? " (" + deletion.reason + ")" : ""] : "",
               ". Its history and alerts remain below."]);
  }

  function showHistory(history, page) {
    var list = byId("ticket-history");
    if (!history || !history.history.length) {
      fill(list, el("li", { "class": "empty" }, "No history recorded."));
    } else {
      fill(list, history.history.map(function (entry) {
        var changes = Object.keys(entry.changes || {}).sort().map(function (field) {
          var change = entry.changes[field];
          var was = change.old == null ? null : [el("span", { "class": "old" }, shown(change.old)), " → "];
          return el("li", {}, el("span", { "class": "field" }, field), ": ", was,
                    el("span", { "class": "new" }, shown(change["new"])));
        });
        return el("li", { "data-field": "ticket.history", "data-key": entry.action },
                  el("p", { "class": "when" }, timeText(entry.recorded_at), " ", el("strong", {}, entry.action),
                     entry.reason ? " (" + entry.reason + ")" : null,
                     entry.job_id ? el("span", { "class": "job" }, " run ", idText(entry.job_id)) : null),
                  changes.length ? el("ul", { "class": "changes" }, changes) : null);
      }));
    }
    var total = history ? history.total : 0;
    var pages = Math.max(1, Math.ceil(total / HISTORY_PAGE_SIZE));
    var newer = byId("history-newer"), older = byId("history-older");
    newer.hidden = page <= 1;
    older.hidden = page >= pages;
    newer.setAttribute("href", historyUrl(page - 1));
    older.setAttribute("href", historyUrl(page + 1));
    setField("history.page", page, total > HISTORY_PAGE_SIZE ? "Page " + page + " of " + pages : "");
  }

  function historyUrl(page) {
    return ticketUrl(body.dataset.ticket) + (page > 1 ? "?history_page=" + page : "");
  }

  function shown(value) {
    if (value == null) { return "–"; }
    return typeof value === "object" ? JSON.stringify(value) : String(value);
  }

  function showAlerts(answer) {
    var box = byId("ticket-alerts");
    if (!answer.notifications.length) {
      fill(box, el("p", { "class": "empty", "data-field": "ticket.alerts", "data-value": "0" },
                   "No alert for this ticket (alerts go out for high urgency)."));
      return;
    }
    var rows = answer.notifications.map(function (alert) {
      var outcome = alert.status === "delivered" ? ["delivered ", timeText(alert.delivered_at)]
        : alert.status === "withdrawn" ? ["withdrawn ", timeText(alert.withdrawn_at), alert.withdrawn_reason ? " (" + alert.withdrawn_reason + ")" : ""]
        : alert.status === "pending" ? ["next attempt ", timeText(alert.next_attempt_at)]
        : [alert.last_error || ""];
      return el("tr", { "data-field": "ticket.alert", "data-key": alert.id, "data-status": alert.status },
                el("td", { "data-label": "Raised" }, timeText(alert.created_at)),
                el("td", { "data-label": "Status" }, el("span", { "class": "badge alert-" + alert.status }, alert.status)),
                el("td", { "data-label": "Attempts", "class": "num" }, count(alert.attempts)),
                el("td", { "data-label": "Outcome" }, outcome, alert.status !== "dead" && alert.last_error
                   ? el("span", { "class": "error" }, " last error: " + alert.last_error) : null),
                el("td", { "data-label": "Reason", "class": "reason" }, alert.reason || ""));
    });
    fill(box, [el("table", { "class": "table alerts" },
                  el("thead", {}, el("tr", {}, ["Raised", "Status", "Attempts", "Outcome", "Reason"].map(function (name) {
                    return el("th", { scope: "col" }, name);
                  }))),
                  el("tbody", {}, rows)),
               answer.total > answer.notifications.length
                 ? el("p", { "class": "hint" }, "The newest " + answer.notifications.length + " of " + count(answer.total) + ".") : null]);
  }

  // -- one customer -----------------------------------------------------------------------------
  function customerView() {
    var id = body.dataset.customer;
    var params = new URLSearchParams(window.location.search);
    var page = params.get("page");
    var mine = paramsOf({ customer_id: id });
    var urlOf = function (p) { return viewUrl(tenant, "/customers/" + enc(id), without(p, ["customer_id"])); };
    byId("customer-list").setAttribute("href", listUrl(mine));
    byId("customer-all").setAttribute("href", listUrl(mine));

    var tickets = new URLSearchParams(mine);
    if (page) { tickets.set("page", page); }
    var counts = URGENCIES.map(function (u) { return ["urgency", u]; })
      .concat(SENTIMENTS.map(function (s) { return ["sentiment", s]; }))
      .map(function (pair) {
        var filter = new URLSearchParams(mine);
        filter.set(pair[0], pair[1]);
        var first = new URLSearchParams(filter);
        first.set("page_size", "1"); // only the total is read
        return api(apiPath("/tickets", first)).then(function (answer) {
          return { name: pair[0], value: pair[1], total: answer.total, href: listUrl(filter) };
        });
      });
    return Promise.all([api(apiPath("/tickets", tickets))].concat(counts)).then(function (results) {
      var answer = results[0];
      setField("customer.total", answer.total, plural(answer.total, "ticket", "tickets"));
      ["urgency", "sentiment"].forEach(function (name) {
        fill(byId("customer-" + name), results.slice(1).filter(function (c) { return c.name === name; }).map(function (c) {
          return el("li", {}, el("a", { href: c.href, "data-field": "customer." + name, "data-key": c.value,
                                        "data-value": String(c.total) },
                                 badge(name, c.value), " ", el("span", { "class": "figure-sm" }, count(c.total))));
        }));
      });
      showTickets(answer, without(tickets, ["customer_id"]), urlOf, "No tickets from this customer.");
      ready();
    });
  }

  // -- wiring ---------------------------------------------------------------------------------
  var VIEWS = { tickets: listView, ticket: ticketView, customer: customerView };

  function load() {
    loadTenants();
    var view = VIEWS[body.dataset.view];
    if (view) { Promise.resolve().then(view).catch(failed); }
  }

  if (byId("ticket-filters")) {
    byId("ticket-filters").addEventListener("submit", function (event) {
      event.preventDefault();
      window.location.assign(listUrl(submittedParams(event.target)));
    });
  }
  shared.onKeyChange(function (key) { if (key) { load(); } });
  load();
}());
