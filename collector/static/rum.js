/*! Trodden RUM tag. Include it as
 *   <script src="http://COLLECTOR/rum.js" data-key="KEY" async></script>
 * Optional: data-collector="URL" (default: the script's own origin), data-user-id="ID".
 * Captures page views, SPA navigation, clicks, inputs (masked where sensitive), changes, submits,
 * Enter/Escape, fetch/XHR (with a W3C traceparent on same-origin requests), errors, web vitals and
 * custom events (window.trodden.track(name, properties)); sends BeaconBatch JSON to /v1/rum.
 * After a page load, SPA navigation, click, submit or Enter it records what became visible once
 * the page settled (`visible`: at most 10 elements, never input values) and an outline of the
 * page (`page`); page views carry their document load (status, timings).
 * No dependencies. The session lives in sessionStorage: one tab's multi-page journey is one session.
 */
(function (w, d) {
  "use strict";
  if (w.trodden && w.trodden.sessionId) return;
  var script = d.currentScript || d.querySelector("script[data-key][src*='rum.js']");
  var attr = function (n) { return script ? script.getAttribute(n) : null; };
  var KEY = attr("data-key") || "";
  var BASE = (attr("data-collector") || (script && script.src ? new URL(script.src, location.href).origin : location.origin)).replace(/\/+$/, "");
  var ENDPOINT = BASE + "/v1/rum?key=" + encodeURIComponent(KEY);
  // The tag's own traffic is its exact endpoints on its collector, never a path prefix: an
  // application's API under /v1/ is recorded like any other.
  var OWN = [BASE + "/v1/rum", BASE + "/v1/config", BASE + "/v1/traces", BASE + "/v1/logs", BASE + "/rum.js"];
  function own(u) { var p = u.href.split(/[?#]/)[0]; return OWN.indexOf(p) >= 0; }
  var userId = attr("data-user-id");
  var nativeFetch = w.fetch && w.fetch.bind(w);
  var ALWAYS_MASK = "input[type=password],[data-sensitive],input[autocomplete^='cc-']";

  // -- storage (sessionStorage can throw in sandboxed frames: fall back to memory) ---------------
  var mem = {};
  function get(k) { try { return sessionStorage.getItem("trodden." + k); } catch (e) { return mem[k] || null; } }
  function set(k, v) { try { sessionStorage.setItem("trodden." + k, v); } catch (e) { mem[k] = v; } }
  function hex(n) {
    var a = new Uint8Array(n), s = "";
    (w.crypto || w.msCrypto).getRandomValues(a);
    for (var i = 0; i < n; i++) s += (a[i] < 16 ? "0" : "") + a[i].toString(16);
    return s;
  }

  var sid = get("sid");
  if (!sid) { sid = hex(16); set("sid", sid); }
  var seq = +get("seq") || 0;
  var cfg = {
    sampling: { rate: 1, boosts: [] },
    capture: { bodies: "json+form", max_body_bytes: 16384, request_headers: ["content-type", "accept"],
               response_headers: ["content-type", "location"], mask_selectors: [] },
    flush_interval_ms: 5000
  };
  try { var cached = JSON.parse(get("cfg") || "null"); if (cached) cfg = cached; } catch (e) { /* keep defaults */ }
  var sampled = get("sampled"); // "1", "0" or null until the config decides
  var queue = [];
  var timer = null;

  // -- config -----------------------------------------------------------------------------------
  // Routes as journeys name them: "METHOD /route/{param}" or "PAGE /path", a trailing * allowed.
  function routeMatches(route, method, path) {
    var m = /^(\S+)\s+(\S+)$/.exec(route || "");
    if (!m || (m[1] !== method && m[1] !== "*")) return false;
    var re = "^" + m[2].replace(/[.+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+").replace(/\*$/, ".*") + "$";
    return new RegExp(re).test(path);
  }
  var storageRecorded = false;
  function recordStorage() {
    // capture.detail with storage: which localStorage/sessionStorage keys this page starts with.
    if (storageRecorded || sampled !== "1") return;
    var want = (cfg.capture.detail || []).some(function (dt) { return dt.storage && routeMatches(dt.route, "PAGE", location.pathname); });
    if (!want) return;
    storageRecorded = true;
    var keys = function (s) { var k = []; try { for (var i = 0; i < s.length; i++) if (s.key(i).indexOf("trodden.") !== 0) k.push(s.key(i)); } catch (e) { /* blocked */ } return k; };
    push("custom", { name: "$storage", properties: { local: keys(w.localStorage), session: keys(w.sessionStorage) } });
  }
  function applyConfig(c) {
    cfg = c;
    set("cfg", JSON.stringify(c));
    if (sampled === null) {
      var rate = c.sampling.rate;
      (c.sampling.boosts || []).forEach(function (b) { if (routeMatches(b.route, "PAGE", location.pathname)) rate = Math.max(rate, b.rate); });
      sampled = Math.random() < rate ? "1" : "0";
      set("sampled", sampled);
    }
    if (sampled === "0") queue = [];
    recordStorage();
    if (timer) clearInterval(timer);
    timer = setInterval(flush, c.flush_interval_ms || 5000);
  }
  if (nativeFetch) {
    nativeFetch(BASE + "/v1/config?key=" + encodeURIComponent(KEY), { credentials: "omit" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (c) { applyConfig(c || cfg); })
      .catch(function () { if (sampled === null) applyConfig(cfg); });
  }

  // -- queue and transport ----------------------------------------------------------------------
  function push(kind, ev) {
    if (sampled === "0" || queue.length >= 5000) return null; // never grow without bound
    ev.kind = kind;
    ev.seq = seq++;
    set("seq", String(seq));
    if (ev.ts === undefined) ev.ts = Date.now();
    if (ev.url === undefined) ev.url = location.href;
    queue.push(ev);
    if (queue.length >= 100) flush();
    return ev;
  }
  function flush(onHide) {
    if (onHide === true) settled(true);
    // An event whose snapshot is pending waits (with what follows it) until the page settled.
    var held = watch ? queue.indexOf(watch.ev) : -1;
    if (sampled !== "1" || !queue.length || !held) return;
    var events = queue.splice(0, held > 0 ? Math.min(held, 500) : 500);
    var body = JSON.stringify({ session_id: sid, user_id: userId, events: events });
    var blob = new Blob([body], { type: "text/plain" }); // a "simple" request: no CORS preflight
    if (onHide === true && navigator.sendBeacon && body.length < 60000 && navigator.sendBeacon(ENDPOINT, blob)) return;
    if (!nativeFetch) return;
    nativeFetch(ENDPOINT, { method: "POST", body: body, keepalive: body.length < 60000, credentials: "omit",
                            headers: { "Content-Type": "text/plain" } })
      .then(function (r) { if (r.status === 429 || r.status >= 500) requeue(events); })
      .catch(function () { requeue(events); });
  }
  // Retries are safe: the collector deduplicates on (session, seq).
  function requeue(events) { if (queue.length < 5000) queue = events.concat(queue); }

  // -- describing elements ------------------------------------------------------------------------
  // (From here to "UI events" the code only reads the page: replay runs it as it is, see
  // trodden.replay.pages, so a page is outlined the same way when recorded and when replayed.)
  var ROLES = { a: "link", button: "button", select: "combobox", textarea: "textbox", img: "img", form: "form",
                nav: "navigation", li: "listitem", option: "option", summary: "button", table: "table",
                h1: "heading", h2: "heading", h3: "heading", h4: "heading", h5: "heading", h6: "heading" };
  var INPUT_ROLES = { checkbox: "checkbox", radio: "radio", submit: "button", button: "button", reset: "button",
                      range: "slider", search: "searchbox", number: "spinbutton" };
  function clip(s, n) { s = (s || "").replace(/\s+/g, " ").trim(); return s ? s.slice(0, n || 256) : undefined; }
  function role(el) {
    var r = el.getAttribute("role");
    if (r) return r;
    var tag = el.tagName.toLowerCase();
    if (tag === "input") return INPUT_ROLES[(el.type || "text").toLowerCase()] || "textbox";
    if (tag === "a" && !el.hasAttribute("href")) return undefined;
    return ROLES[tag];
  }
  function textOf(id) { var e = d.getElementById(id); return e ? e.textContent : ""; }
  function accName(el) {
    var v = el.getAttribute("aria-label");
    if (v) return clip(v);
    v = el.getAttribute("aria-labelledby");
    if (v) return clip(v.split(/\s+/).map(textOf).join(" "));
    var tag = el.tagName.toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea") {
      var label = el.id && d.querySelector("label[for='" + cssEscape(el.id) + "']") || el.closest("label");
      if (label) return clip(label.textContent);
      if (el.type === "submit" || el.type === "button") return clip(el.value);
      return clip(el.getAttribute("placeholder") || el.getAttribute("title") || el.getAttribute("name"));
    }
    if (tag === "img") return clip(el.getAttribute("alt"));
    return clip(el.getAttribute("title") || (masked(el) ? "" : el.textContent));
  }
  function cssEscape(s) { return w.CSS && CSS.escape ? CSS.escape(s) : s.replace(/([^\w-])/g, "\\$1"); }
  function nth(el) {
    var i = 1, same = false, sib = el.parentNode ? el.parentNode.children : [];
    for (var k = 0; k < sib.length; k++) {
      if (sib[k] === el) break;
      if (sib[k].tagName === el.tagName) i++;
    }
    for (k = 0; k < sib.length; k++) if (sib[k] !== el && sib[k].tagName === el.tagName) same = true;
    return same ? i : 0;
  }
  function cssPath(el) {
    var parts = [];
    for (var e = el; e && e.nodeType === 1 && parts.length < 12; e = e.parentElement) {
      if (e.id) { parts.unshift("#" + cssEscape(e.id)); break; }
      var tag = e.tagName.toLowerCase(), n = nth(e);
      parts.unshift(n ? tag + ":nth-of-type(" + n + ")" : tag);
      if (tag === "body" || tag === "html") break;
    }
    return parts.join(" > ");
  }
  function xpath(el) {
    var parts = [];
    for (var e = el; e && e.nodeType === 1; e = e.parentElement) {
      if (e.id) { parts.unshift('//*[@id="' + e.id + '"]'); return parts.join("/"); }
      var n = nth(e);
      parts.unshift(e.tagName.toLowerCase() + (n ? "[" + n + "]" : ""));
    }
    return "/" + parts.join("/");
  }
  function describe(el) {
    var t = { tag: el.tagName.toLowerCase() };
    var tid = el.getAttribute("data-testid") || el.getAttribute("data-test") || el.getAttribute("data-cy");
    if (tid) t.test_id = tid;
    if (el.id) t.id = el.id;
    var r = role(el); if (r) t.role = r;
    var n = accName(el); if (n) t.name = n;
    if (!/^(input|select|textarea)$/.test(t.tag) && !masked(el)) { var x = clip(el.innerText || el.textContent); if (x) t.text = x; }
    t.css = cssPath(el).slice(0, 1024);
    t.xpath = xpath(el).slice(0, 1024);
    return t;
  }
  function masked(el) {
    var sels = [ALWAYS_MASK].concat(cfg.capture.mask_selectors || []);
    for (var i = 0; i < sels.length; i++) { try { if (el.closest(sels[i])) return true; } catch (e) { /* bad selector */ } }
    return false;
  }

  // -- what the page shows ----------------------------------------------------------------------
  // An outline of the page: headings, landmarks, tables (column headers, row counts), lists (item
  // counts), names of links (not to one record, not in table bodies) and buttons, form field labels, alerts. Rendered
  // elements only, masked ones left out, never a value or a table cell; bounded. Replay runs the
  // same code (this section is its source), `each` adding what it compares per table.
  var LANDMARKS = { main: "main", nav: "navigation", aside: "complementary", header: "banner", footer: "contentinfo", search: "search" };
  function outline(each) {
    var o = { headings: [], landmarks: [], tables: [], lists: [], links: [], buttons: [], fields: [], alerts: [] };
    function add(k, v, max) { v = clip(v, 80); if (v && o[k].length < max && o[k].indexOf(v) < 0) o[k].push(v); }
    function all(sel, fn) {
      var els = d.querySelectorAll(sel);
      for (var i = 0; i < els.length && i < 1000; i++) if (els[i].getClientRects().length && !masked(els[i])) fn(els[i]);
    }
    all("h1,h2,h3", function (el) { add("headings", el.innerText, 20); });
    all("main,nav,aside,search,body>header,body>footer,[role=main],[role=navigation],[role=search],[role=banner],[role=contentinfo],[role=complementary]",
        function (el) { add("landmarks", el.getAttribute("role") || LANDMARKS[el.tagName.toLowerCase()], 20); });
    all("table", function (el) {
      if (o.tables.length >= 10) return;
      var r0 = el.rows[0], head = el.tHead ? el.tHead.rows[0] : r0 && [].every.call(r0.cells, function (c) { return c.tagName === "TH"; }) ? r0 : null, hs = [], rows = 0; // a key/value row (th, td) is data
      if (head) for (var i = 0; i < head.cells.length && hs.length < 20; i++) if (head.cells[i].tagName === "TH") hs.push(clip(head.cells[i].innerText, 80) || "");
      for (i = 0; i < el.tBodies.length; i++) for (var j = 0; j < el.tBodies[i].rows.length; j++) if (el.tBodies[i].rows[j] !== head) rows++;
      var t = { name: clip((el.caption && el.caption.innerText) || el.getAttribute("aria-label") || el.id, 80) || null, headers: hs, rows: rows };
      if (each) each(el, t);
      o.tables.push(t);
    });
    all("ul,ol,[role=list]", function (el) {
      if (o.lists.length >= 10) return;
      var n = el.querySelectorAll(":scope>li,:scope>[role=listitem]").length;
      if (n) o.lists.push({ name: clip(el.getAttribute("aria-label") || el.id || el.classList[0], 80) || null, items: n });
    });
    all("a[href],button,input,select,textarea,[role=button]", function (el) {
      var r = role(el);
      // links to one record (a digit in a path or route segment; a version such as v1 is none) are data
      if (r === "link" && /\/(?!v\d+(?:\.\d+)*(?:[/?#]|$))[^/?#]*\d/.test(el.pathname + el.hash)) return;
      // ... and so are controls in a data table's rows (a row's checkbox is named after its record)
      var row = el.closest("tbody");
      if (r === "button" || r === "link") { if (!row) add(r + "s", accName(el), r === "link" ? 60 : 30); }
      else if (el.type !== "hidden" && el.type !== "image" && !(row && row.parentNode.querySelector("th"))) add("fields", accName(el), 30);
    });
    all("[role=alert],[role=status],[class*=alert],[class*=error],[class*=warning],[class*=message]", function (el) { add("alerts", el.innerText, 10); });
    return o;
  }
  // The document load of this page (PerformanceNavigationTiming): its status where the browser
  // exposes it (responseStatus), its timings from the start of the navigation.
  function load() {
    try {
      var n = performance.getEntriesByType("navigation")[0], r = function (v) { return v > 0 ? Math.round(v) : null; };
      if (n) return { type: n.type, status: n.responseStatus >= 100 ? n.responseStatus : null, duration_ms: r(n.loadEventEnd) || r(n.responseEnd) || 0,
                      ttfb_ms: r(n.responseStart), dom_ms: r(n.domContentLoadedEventEnd), redirects: n.redirectCount || 0 };
    } catch (e) { /* old browser */ }
  }

  // -- UI events ----------------------------------------------------------------------------------
  var CLICKABLE = "a,button,input,select,textarea,label,summary,[role],[data-testid],[onclick]";
  var TEXTLIKE = /^(text|email|password|search|tel|url|number|date|datetime-local|month|week|time)$/;
  var pendingInputs = [];
  function isText(el) {
    var tag = el.tagName.toLowerCase();
    return tag === "textarea" || (tag === "input" && TEXTLIKE.test((el.type || "text").toLowerCase())) || el.isContentEditable;
  }
  function valueEvent(kind, el) {
    var m = masked(el);
    var v = el.type === "checkbox" || el.type === "radio" ? String(el.checked) : (el.isContentEditable ? el.textContent : el.value);
    push(kind, { target: describe(el), value: m ? null : (v == null ? null : String(v).slice(0, 4096)), masked: m });
  }
  function flushInputs() {
    var p = pendingInputs; pendingInputs = [];
    p.forEach(function (x) { clearTimeout(x.t); valueEvent("input", x.el); });
  }
  d.addEventListener("input", function (e) {
    var el = e.target;
    if (!el || el.nodeType !== 1 || !isText(el)) return;
    for (var i = 0; i < pendingInputs.length; i++) if (pendingInputs[i].el === el) { clearTimeout(pendingInputs[i].t); pendingInputs.splice(i, 1); break; }
    var x = { el: el };
    // One event per burst of typing: the value the user settled on.
    x.t = setTimeout(function () { pendingInputs = pendingInputs.filter(function (p) { return p !== x; }); valueEvent("input", el); }, 500);
    pendingInputs.push(x);
  }, true);
  d.addEventListener("change", function (e) {
    var el = e.target;
    if (!el || el.nodeType !== 1) return;
    if (isText(el)) { flushInputs(); return; }
    valueEvent("change", el);
  }, true);
  d.addEventListener("click", function (e) {
    if (!e.target || e.target.nodeType !== 1) return;
    flushInputs();
    scrolledAt = 0;
    watchAfter(push("click", { target: describe(e.target.closest(CLICKABLE) || e.target) }));
  }, true);
  d.addEventListener("submit", function (e) {
    flushInputs();
    if (e.target && e.target.nodeType === 1) watchAfter(push("submit", { target: describe(e.target) }));
  }, true);
  d.addEventListener("keydown", function (e) {
    if ((e.key === "Enter" || e.key === "Escape") && e.target && e.target.nodeType === 1) {
      flushInputs();
      var ev = push("key", { key: e.key, target: describe(e.target) });
      if (e.key === "Enter") watchAfter(ev);
    }
  }, true);

  // -- scroll, only where it changed state -----------------------------------------------------
  // A scroll is recorded when a request starts within a second of it ending (infinite lists,
  // lazy loading): replay must scroll there for the page to behave the same. Its target is the
  // element at the bottom of the viewport, what came into view.
  var scrolledAt = 0;
  w.addEventListener("scroll", function () { scrolledAt = Date.now(); }, { passive: true, capture: true });
  function scrollCausedThis() {
    if (!scrolledAt || Date.now() - scrolledAt > 1000) return;
    scrolledAt = 0;
    // The lowest content element in view: skip page margins and wrappers.
    for (var y = w.innerHeight - 2; y > w.innerHeight / 2; y -= 12) {
      var el = d.elementFromPoint(w.innerWidth / 2, y);
      if (el && el !== d.body && el !== d.documentElement && (!el.children.length || el.closest("[data-testid]"))) {
        push("scroll", { target: describe(el.closest("[data-testid]") || el) });
        return;
      }
    }
  }

  // -- navigation -------------------------------------------------------------------------------
  var lastUrl = location.href;
  function navigated(trigger) {
    var now = location.href;
    if (now === lastUrl) return;
    flushInputs();
    watchAfter(push("navigation", { from_url: lastUrl, to_url: now, trigger: trigger }));
    lastUrl = now;
  }
  ["pushState", "replaceState"].forEach(function (name) {
    var orig = history[name];
    history[name] = function () {
      var r = orig.apply(this, arguments);
      navigated(name === "pushState" ? "push" : "replace");
      return r;
    };
  });
  w.addEventListener("popstate", function () { navigated("pop"); });
  w.addEventListener("hashchange", function () { navigated("hash"); });

  // -- network ----------------------------------------------------------------------------------
  function wanted(list, name) { return (list || []).indexOf(name.toLowerCase()) >= 0; }
  function pickHeaders(h, list) {
    var out = {};
    if (!h) return out;
    if (typeof h.forEach === "function" && !Array.isArray(h)) h.forEach(function (v, k) { if (wanted(list, k)) out[k.toLowerCase()] = v; });
    else if (Array.isArray(h)) h.forEach(function (p) { if (wanted(list, p[0])) out[p[0].toLowerCase()] = p[1]; });
    else for (var k in h) if (wanted(list, k)) out[k.toLowerCase()] = String(h[k]);
    return out;
  }
  // What to keep of one request: the global capture settings, widened by capture.detail entries
  // whose route matches (the operator's feedback for flows whose replay lacked state).
  function lower(list) { return (list || []).map(function (h) { return String(h).toLowerCase(); }); }
  function policy(method, u) {
    var c = cfg.capture, p = { req: c.bodies, res: c.bodies !== "none", reqH: lower(c.request_headers), resH: lower(c.response_headers) };
    (c.detail || []).forEach(function (dt) {
      if (!routeMatches(dt.route, method, u.pathname)) return;
      if (dt.request_bodies) p.req = "json+form";
      if (dt.response_bodies) p.res = true;
      p.reqH = p.reqH.concat(lower(dt.headers));
      p.resH = p.resH.concat(lower(dt.headers));
    });
    return p;
  }
  function captureBody(b, type, mode) {
    var max = cfg.capture.max_body_bytes;
    if (b == null || mode === "none") return { body: null };
    if (typeof FormData !== "undefined" && b instanceof FormData) {
      if (mode !== "json+form") return { body: null };
      var o = {};
      b.forEach(function (v, k) { if (typeof v === "string") o[k] = v; });
      return { body: o };
    }
    if (typeof URLSearchParams !== "undefined" && b instanceof URLSearchParams) b = b.toString();
    if (typeof b !== "string") return { body: null };
    if (b.length > max) return { body: null, truncated: true };
    try { return { body: JSON.parse(b) }; } catch (e) { /* not JSON */ }
    if (mode === "json+form" && (/form-urlencoded/.test(type || "") || /^[^\s=&]+=[^\s]*$/.test(b))) return { body: b };
    return { body: null };
  }
  function traceparent() {
    var t = hex(16), s = hex(8);
    return { trace: t, span: s, header: "00-" + t + "-" + s + "-01" };
  }
  function sameOrigin(u) { return u.origin === location.origin; }
  function record(ev, pol, method, u, status, start, reqHeaders, reqBody, resHeaders, resBody, error, tp) {
    var rq = captureBody(reqBody, reqHeaders["content-type"], pol.req), rs = resBody || { body: null };
    var out = { initiator: ev, method: method, request_url: u.href, status: status, duration_ms: Math.max(0, Date.now() - start),
                ts: start, request_headers: pickHeaders(reqHeaders, pol.reqH),
                response_headers: resHeaders, request_body: rq.body, response_body: rs.body,
                body_truncated: !!(rq.truncated || rs.truncated) };
    if (tp) { out.trace_id = tp.trace; out.span_id = tp.span; }
    if (error) out.error = String(error).slice(0, 1024);
    push("request", out);
    if (error) push("error", { error_type: "failed_request", message: (method + " " + u.href + ": " + error).slice(0, 4096) });
  }
  function readJson(text, type, pol) {
    if (!pol.res || !/json/.test(type || "")) return { body: null };
    if (text.length > cfg.capture.max_body_bytes) return { body: null, truncated: true };
    try { return { body: JSON.parse(text) }; } catch (e) { return { body: null }; }
  }
  if (nativeFetch) {
    w.fetch = function (input, init) {
      var req = typeof Request !== "undefined" && input instanceof Request ? input : null;
      var u;
      try { u = new URL(req ? req.url : String(input), location.href); } catch (e) { return nativeFetch(input, init); }
      if (own(u) || sampled === "0") return nativeFetch(input, init);
      init = init || {};
      var method = String(init.method || (req && req.method) || "GET").toUpperCase();
      var headers = new Headers(init.headers || (req ? req.headers : undefined));
      var tp = null;
      if (sameOrigin(u) && !headers.has("traceparent")) {
        tp = traceparent();
        headers.set("traceparent", tp.header);
        init = Object.assign({}, init, { headers: headers });
      }
      var reqHeaders = {};
      headers.forEach(function (v, k) { reqHeaders[k] = v; });
      scrollCausedThis();
      var start = Date.now(), pol = policy(method, u);
      inflight++;
      return nativeFetch(req && tp ? new Request(req, init) : input, req && tp ? undefined : init).then(function (res) {
        inflight--; netAt = Date.now();
        var type = res.headers.get("content-type") || "";
        var resHeaders = pickHeaders(res.headers, pol.resH);
        var done = function (text) { record("fetch", pol, method, u, res.status, start, reqHeaders, init.body, resHeaders, readJson(text || "", type, pol), null, tp); };
        if (/json/.test(type) && pol.res) res.clone().text().then(done, function () { done(""); });
        else done("");
        return res;
      }, function (err) {
        inflight--; netAt = Date.now();
        record("fetch", pol, method, u, 0, start, reqHeaders, init.body, {}, null, err && err.message || "network error", tp);
        throw err;
      });
    };
  }
  var XHR = w.XMLHttpRequest && w.XMLHttpRequest.prototype;
  if (XHR) {
    var open = XHR.open, send = XHR.send, setHeader = XHR.setRequestHeader;
    XHR.open = function (method, url) {
      this._trodden = { method: String(method).toUpperCase(), url: url, headers: {} };
      return open.apply(this, arguments);
    };
    XHR.setRequestHeader = function (k, v) {
      if (this._trodden) this._trodden.headers[k.toLowerCase()] = v;
      return setHeader.apply(this, arguments);
    };
    XHR.send = function (body) {
      var x = this, t = x._trodden, u;
      if (!t) return send.apply(this, arguments);
      try { u = new URL(t.url, location.href); } catch (e) { return send.apply(this, arguments); }
      if (own(u) || sampled === "0") return send.apply(this, arguments);
      var tp = null;
      if (sameOrigin(u) && !t.headers.traceparent) { tp = traceparent(); setHeader.call(x, "traceparent", tp.header); t.headers.traceparent = tp.header; }
      scrollCausedThis();
      var start = Date.now();
      inflight++;
      x.addEventListener("loadend", function () {
        inflight--; netAt = Date.now();
        var type = x.getResponseHeader("content-type") || "", resHeaders = {}, pol = policy(t.method, u);
        pol.resH.forEach(function (h) { var v = x.getResponseHeader(h); if (v != null) resHeaders[h] = v; });
        var text = x.responseType === "" || x.responseType === "text" ? x.responseText : (x.responseType === "json" ? JSON.stringify(x.response) : "");
        record("xhr", pol, t.method, u, x.status, start, t.headers, body, resHeaders, readJson(text || "", type, pol), x.status === 0 ? "network error" : null, tp);
      });
      return send.apply(this, arguments);
    };
  }

  // -- what became visible ----------------------------------------------------------------------
  // After an action (or page load) the page settles: no request of its own in flight and no DOM
  // change for 300 ms (a page load also waits for "complete"), 3 s at most. Then the elements
  // visible now that were not (or showed another text) before are the action's `visible`:
  // test ids, live regions, dialogs and headings, page chrome (header, nav, footer) left out,
  // alerts and dialogs first, at most 10, described like click targets. One watch at a time:
  // the next action closes the pending one with what is visible then; the page being hidden
  // drops an action's (what followed is the next page's page_view) and closes a page view's.
  // With it go the page's outline (`page`), and the page view's document load (`load`) or the
  // action's time to settle (`settle_ms`: until the last DOM change or response).
  var SHOWN = "[data-testid],[data-test],[data-cy],[role=alert],[role=status],[role=dialog],[role=alertdialog],dialog,h1,h2,h3";
  var LIVE = "[role=alert],[role=status],[role=dialog],[role=alertdialog],dialog";
  var CHROME = "header,nav,footer,[role=banner],[role=navigation],[role=contentinfo]";
  var inflight = 0, watch = null, changedAt = 0, netAt = 0;
  var observer = w.MutationObserver && new MutationObserver(function () { changedAt = Date.now(); });
  function shown() {
    // Visible as Playwright judges it (a non-empty box, not visibility:hidden); text to see changes.
    var m = new Map(), els = d.querySelectorAll(SHOWN);
    for (var i = 0; i < els.length && i < 1000; i++) {
      var el = els[i], r = el.getBoundingClientRect();
      if (r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== "hidden") m.set(el, el.innerText);
    }
    return m;
  }
  function watchAfter(ev) {
    if (!ev || !w.Map) return;
    var before = watch && ev.kind === "navigation" ? watch.before : undefined; // from the click that led there
    settled();
    if (before === undefined) before = ev.kind === "page_view" ? null : shown();
    watch = { ev: ev, before: before, start: changedAt = Date.now() };
    if (observer) observer.observe(d.documentElement, { childList: true, subtree: true, attributes: true, characterData: true });
    watch.t = setInterval(function () {
      var now = Date.now();
      if (now - watch.start > 3000 || (!inflight && now - changedAt >= 300 && d.readyState === "complete")) settled();
    }, 100);
  }
  function settled(drop) {
    var x = watch;
    if (!x) return;
    watch = null;
    clearInterval(x.t);
    if (observer) observer.disconnect();
    if (drop && x.ev.kind !== "page_view") return; // a page left early still showed what it showed
    var out = [];
    shown().forEach(function (text, el) {
      if (x.before && x.before.get(el) === text) return;
      var live = el.matches(LIVE);
      if (!live && el.closest(CHROME)) return;
      out.push([live ? 0 : /^H\d$/.test(el.tagName) ? 1 : 2, out.length, el]);
    });
    out.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    x.ev.visible = out.slice(0, 10).map(function (o) { var t = describe(o[2]); delete t.css; delete t.xpath; return t; });
    x.ev.page = outline();
    if (x.ev.kind === "page_view") x.ev.load = load();
    else x.ev.settle_ms = Math.max(changedAt, netAt) - x.start;
  }

  // -- errors -------------------------------------------------------------------------------------
  w.addEventListener("error", function (e) {
    if (!e.message && !e.error) return; // resource load errors have neither
    push("error", { error_type: "uncaught", message: String(e.message || e.error).slice(0, 4096),
                    stack: e.error && e.error.stack ? String(e.error.stack).slice(0, 16384) : null,
                    source: e.filename ? String(e.filename).slice(0, 4096) : null });
  });
  w.addEventListener("unhandledrejection", function (e) {
    var r = e.reason;
    push("error", { error_type: "unhandled_rejection", message: String(r && r.message || r).slice(0, 4096),
                    stack: r && r.stack ? String(r.stack).slice(0, 16384) : null });
  });

  // -- web vitals ---------------------------------------------------------------------------------
  var vitals = {}, reported = false;
  var LIMITS = { LCP: [2500, 4000], CLS: [0.1, 0.25], INP: [200, 500], FCP: [1800, 3000], TTFB: [800, 1800] };
  function observe(type, fn) {
    try { new PerformanceObserver(function (l) { l.getEntries().forEach(fn); }).observe({ type: type, buffered: true }); } catch (e) { /* unsupported */ }
  }
  observe("largest-contentful-paint", function (en) { vitals.LCP = en.startTime; });
  observe("paint", function (en) { if (en.name === "first-contentful-paint") vitals.FCP = en.startTime; });
  observe("layout-shift", function (en) { if (!en.hadRecentInput) vitals.CLS = (vitals.CLS || 0) + en.value; });
  observe("event", function (en) { if (en.interactionId) vitals.INP = Math.max(vitals.INP || 0, en.duration); });
  try { var nav = performance.getEntriesByType("navigation")[0]; if (nav) vitals.TTFB = nav.responseStart; } catch (e) { /* old browser */ }
  function reportVitals() {
    if (reported) return;
    reported = true;
    for (var name in vitals) {
      var v = Math.max(0, vitals[name]), l = LIMITS[name];
      push("vital", { name: name, value: v, rating: v <= l[0] ? "good" : v <= l[1] ? "needs-improvement" : "poor" });
    }
  }

  // -- lifecycle ----------------------------------------------------------------------------------
  function hide() { flushInputs(); reportVitals(); flush(true); }
  d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") hide(); });
  w.addEventListener("pagehide", hide);
  watchAfter(push("page_view", { title: clip(d.title, 512) || null, referrer: d.referrer || null }));
  if (sampled !== null) applyConfig(cfg);

  w.trodden = {
    sessionId: sid,
    track: function (name, properties) { push("custom", { name: String(name).slice(0, 128), properties: properties || {} }); },
    identify: function (id) { userId = id == null ? null : String(id); },
    flush: function () { flushInputs(); settled(); flush(); }
  };
})(window, document);
