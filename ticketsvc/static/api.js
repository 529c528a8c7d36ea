/*
 * What every dashboard view shares (templates/dashboard.html loads it first): the caller's
 * API key and the fetch helper that sends it. Exposed as window.TicketsvcApi.
 *
 * - The key comes from the URL fragment (#key=..., never sent to the server; removed from
 *   the address bar once read) or from the page's form, and lives in sessionStorage (this
 *   tab only), so every view and every plain link of the dashboard finds it without it
 *   ever being in a URL. Without one the pages still try: a service with AUTH_MODE=off answers.
 * - api(path) is a GET of the JSON API with the key as a bearer token; a non-2xx answer
 *   rejects with an ApiError carrying the status and the API's message.
 */
(function () {
  "use strict";

  var KEY_STORAGE = "ticketsvc.apiKey";
  var memoryKey = null; // if sessionStorage is unavailable (privacy settings)
  var listeners = [];

  function readKey() {
    try { return window.sessionStorage.getItem(KEY_STORAGE) || memoryKey; } catch (e) { return memoryKey; }
  }

  function storeKey(key) {
    memoryKey = key || null;
    try {
      if (key) { window.sessionStorage.setItem(KEY_STORAGE, key); } else { window.sessionStorage.removeItem(KEY_STORAGE); }
    } catch (e) { /* memoryKey holds it for this page */ }
  }

  function takeKeyFromFragment() {
    var params = new URLSearchParams(window.location.hash.slice(1));
    var key = params.get("key");
    if (key) {
      storeKey(key.trim());
      // Out of the address bar and the history, so it is not shared with a copied link.
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
  }

  function ApiError(status, message) {
    this.status = status;
    this.message = message;
  }

  // The raw response of a GET with the key (a download reads it as a blob); non-2xx rejects.
  function fetchWithKey(path, accept) {
    var headers = { Accept: accept || "application/json" };
    var key = readKey();
    if (key) { headers.Authorization = "Bearer " + key; }
    return window.fetch(path, { headers: headers, credentials: "omit" }).then(function (response) {
      if (response.ok) { return response; }
      return response.json().catch(function () { return {}; }).then(function (body) {
        throw new ApiError(response.status, (body && body.message) || response.statusText || "request failed");
      });
    });
  }

  function api(path) {
    return fetchWithKey(path).then(function (response) { return response.json(); });
  }

  // -- the key form ---------------------------------------------------------------------
  function askForKey(message) {
    var notice = document.getElementById("notice");
    notice.textContent = message || "";
    notice.hidden = !message;
    document.getElementById("key-form").hidden = false;
    document.body.dataset.state = "need-key";
    document.getElementById("key-input").focus();
  }

  // fn(key) runs when the caller gives a key in the form (key) or drops theirs (null).
  function onKeyChange(fn) { listeners.push(fn); }

  function keyChanged(key) {
    storeKey(key);
    listeners.forEach(function (fn) { fn(key); });
  }

  document.getElementById("key-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var input = document.getElementById("key-input");
    var key = input.value.trim();
    input.value = "";
    document.getElementById("key-form").hidden = true;
    document.getElementById("notice").hidden = true;
    document.body.dataset.state = "loading";
    keyChanged(key);
  });
  document.getElementById("change-key").addEventListener("click", function () {
    keyChanged(null);
    askForKey(null);
  });

  takeKeyFromFragment();

  window.TicketsvcApi = {
    api: api, fetchWithKey: fetchWithKey, ApiError: ApiError, readKey: readKey,
    askForKey: askForKey, onKeyChange: onKeyChange
  };
}());
