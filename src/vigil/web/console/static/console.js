// The console's live parts; every page reads without them. Same-origin requests only.
// Live inbox: new shares arrive on the push stream (/api/v1/stream, authenticated by the
// session cookie) and are inserted at the top of the table; a recalled share
// (`event: recall`) leaves it.
(function () {
  "use strict";
  var cfgEl = document.getElementById("live");
  var table = document.getElementById("inbox");
  if (!cfgEl || !table || !window.EventSource) { return; }
  var cfg = JSON.parse(cfgEl.textContent);
  var f = cfg.filters;
  var tbody = table.tBodies[0];
  var status = document.getElementById("live-status");
  var arrived = 0;
  var TLP = { "clear": "TLP:CLEAR", "green": "TLP:GREEN", "amber": "TLP:AMBER",
              "amber+strict": "TLP:AMBER+STRICT", "red": "TLP:RED" };

  function matches(h) {
    var themes = h.themes || [], regions = h.regions || [], aud = h.audience || {};
    if (f.theme && !themes.some(function (t) { return t === f.theme || t.indexOf(f.theme + "/") === 0; })) { return false; }
    if (f.region && regions.indexOf(f.region) < 0) { return false; }
    if (f.tlp && aud.tlp !== f.tlp) { return false; }
    if (f.channel && aud.channel !== f.channel) { return false; }
    if (f.originator && h.originator !== f.originator) { return false; }
    return true;
  }

  function cell(tr, content) {
    var td = document.createElement("td");
    if (typeof content === "string") { td.textContent = content; } else { td.appendChild(content); }
    tr.appendChild(td);
  }

  function row(ev) {
    var h = ev.envelope.header, aud = h.audience || {};
    var tr = document.createElement("tr");
    tr.setAttribute("data-share", ev.share_id);
    tr.className = "new";
    var time = document.createElement("time");
    time.setAttribute("datetime", ev.added);
    time.textContent = String(ev.added).slice(0, 19).replace("T", " ");
    cell(tr, time);
    var tlp = document.createElement("span");
    tlp.className = "tlp tlp-" + String(aud.tlp).replace("+", "-");
    tlp.textContent = TLP[aud.tlp] || String(aud.tlp).toUpperCase();
    cell(tr, tlp);
    cell(tr, cfg.names[h.originator] || h.originator);
    cell(tr, aud.channel ? (cfg.channels[aud.channel] || "") :
      "direct, " + (aud.recipients || []).length + " recipient(s)");
    cell(tr, (h.themes || []).join(", "));
    cell(tr, (h.regions || []).join(", "));
    cell(tr, (h.payload || {}).form || "");
    var a = document.createElement("a");
    a.href = "/shares/" + encodeURIComponent(ev.share_id);
    a.textContent = String(ev.share_id).slice(7, 15) + "…";
    cell(tr, a);
    return tr;
  }

  var es = new EventSource("/api/v1/stream?after=" + encodeURIComponent(cfg.cursor));
  es.addEventListener("share", function (msg) {
    var ev;
    try { ev = JSON.parse(msg.data); } catch (e) { return; }
    if (!ev.envelope || tbody.querySelector('tr[data-share="' + CSS.escape(ev.share_id) + '"]')) { return; }
    if (!matches(ev.envelope.header)) { return; }
    tbody.insertBefore(row(ev), tbody.firstChild);
    var empty = document.getElementById("inbox-empty");
    if (empty) { empty.remove(); }
    arrived += 1;
    say();
  });
  var recalled = 0;
  function say() {
    if (!status) { return; }
    var parts = [];
    if (arrived) { parts.push(arrived + " new share(s) arrived"); }
    if (recalled) { parts.push(recalled + " share(s) were recalled by their originators"); }
    status.textContent = parts.join("; ") + " since this page loaded.";
  }
  es.addEventListener("recall", function (msg) {
    var ev;
    try { ev = JSON.parse(msg.data); } catch (e) { return; }
    var tr = tbody.querySelector('tr[data-share="' + CSS.escape(String(ev.share_id)) + '"]');
    if (tr) { tr.remove(); recalled += 1; say(); }
  });
})();

// Live correlation notices (/api/v1/correlations/stream).
(function () {
  "use strict";
  var cfgEl = document.getElementById("live-notices");
  var table = document.getElementById("notices");
  if (!cfgEl || !table || !window.EventSource) { return; }
  var cfg = JSON.parse(cfgEl.textContent);
  var tbody = table.tBodies[0];
  var status = document.getElementById("live-status");
  var arrived = 0;

  function code(text) { var c = document.createElement("code"); c.textContent = text; return c; }
  function link(id) {
    var a = document.createElement("a");
    a.href = "/shares/" + encodeURIComponent(id);
    a.textContent = String(id).slice(7, 15) + "…";
    return a;
  }
  function td(tr) { var c = document.createElement("td"); tr.appendChild(c); return c; }

  var es = new EventSource("/api/v1/correlations/stream?after=" + encodeURIComponent(cfg.cursor));
  es.addEventListener("correlation", function (msg) {
    var n;
    try { n = JSON.parse(msg.data); } catch (e) { return; }
    if (tbody.querySelector('tr[data-seq="' + Number(n.seq) + '"]')) { return; }
    var tr = document.createElement("tr");
    tr.setAttribute("data-seq", String(n.seq));
    tr.className = "new";
    var t = document.createElement("time");
    t.setAttribute("datetime", n.created);
    t.textContent = String(n.created).slice(0, 19).replace("T", " ");
    td(tr).appendChild(t);
    var v = td(tr);
    v.appendChild(code(n.observable.kind + ":" + n.observable.value));
    if (n.match && n.match.observable.value !== n.observable.value) {
      v.appendChild(document.createTextNode(" ~ "));
      v.appendChild(code(n.match.observable.value));
    }
    td(tr).appendChild(link(n.share));
    var o = td(tr);
    if (n.match) {
      o.appendChild(link(n.match.share));
      o.appendChild(document.createTextNode(" " + String(n.match.tlp).toUpperCase() + " from " +
        (n.match.originator_name || "") + (n.match.channel_name ? " in " + n.match.channel_name : "")));
    } else if (n.hint) {
      o.textContent = n.hint.text;
    }
    tbody.insertBefore(tr, tbody.firstChild);
    var empty = document.getElementById("notices-empty");
    if (empty) { empty.remove(); }
    arrived += 1;
    if (status) { status.textContent = arrived + " new notice(s) since this page loaded."; }
  });
})();

// The originator's receipts view: refreshed from GET /api/v1/shares/{id}/receipts.
(function () {
  "use strict";
  var table = document.getElementById("receipts");
  if (!table || !window.fetch) { return; }
  var url = "/api/v1/shares/" + encodeURIComponent(table.getAttribute("data-share")) + "/receipts";
  var status = document.getElementById("receipts-status");
  var WHATS = ["delivered", "received", "opened", "recall_ack"];

  function show(cell, got, what, recalled) {
    var key = got ? got.at : (what === "recall_ack" && !recalled ? "-" : "");
    if (cell.getAttribute("data-at") === key) { return false; }
    var first = cell.hasAttribute("data-at");
    cell.setAttribute("data-at", key);
    cell.textContent = "";
    var span = document.createElement("span");
    if (got) {
      span.className = "yes";
      span.textContent = "✓ ";
      var t = document.createElement("time");
      t.setAttribute("datetime", got.at);
      t.textContent = String(got.at).slice(0, 19).replace("T", " ");
      cell.appendChild(span);
      cell.appendChild(t);
      if (got.held_until) {
        var held = document.createElement("span");
        held.className = "muted";
        held.textContent = " (held back until " + String(got.held_until).slice(0, 19).replace("T", " ") + ")";
        cell.appendChild(held);
      }
    } else {
      span.className = key === "-" ? "muted" : "no";
      span.textContent = key === "-" ? "—" : "not yet";
      cell.appendChild(span);
    }
    return first;
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (doc) {
        if (!doc) { return; }
        var changed = 0;
        doc.recipients.forEach(function (r) {
          var tr = table.querySelector('tr[data-member="' + CSS.escape(r.member) + '"]');
          if (!tr) { return; }
          WHATS.forEach(function (w) {
            var cell = tr.querySelector('td[data-what="' + w + '"]');
            if (cell && show(cell, r[w], w, doc.state.recalled)) { changed += 1; tr.className = "new"; }
          });
        });
        if (changed && status) {
          status.textContent = "Updated " + new Date().toISOString().slice(11, 19) + " UTC: " +
            doc.not_opened.length + " recipient(s) have not opened it yet.";
        }
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(poll, 2000); });
  }
  poll();
})();

// The relationship graph: zoom (buttons, wheel) and pan (drag) by moving the viewBox.
(function () {
  "use strict";
  var fig = document.getElementById("graph");
  if (!fig) { return; }
  var svg = fig.querySelector("svg");
  var W = Number(svg.getAttribute("data-width")), H = Number(svg.getAttribute("data-height"));
  var box = { x: 0, y: 0, w: W, h: H };
  function apply() { svg.setAttribute("viewBox", [box.x, box.y, box.w, box.h].join(" ")); }
  function zoom(f, cx, cy) {
    var nw = Math.min(W, Math.max(W / 20, box.w * f)), nh = nw * H / W;
    cx = cx === undefined ? box.x + box.w / 2 : cx;
    cy = cy === undefined ? box.y + box.h / 2 : cy;
    box = { x: cx - (cx - box.x) * nw / box.w, y: cy - (cy - box.y) * nh / box.h, w: nw, h: nh };
    apply();
  }
  var bar = document.createElement("div");
  bar.className = "zoom";
  [["+", "Zoom in", function () { zoom(0.7); }], ["−", "Zoom out", function () { zoom(1 / 0.7); }],
   ["Fit", "Show the whole graph", function () { box = { x: 0, y: 0, w: W, h: H }; apply(); }]]
    .forEach(function (b) {
      var btn = document.createElement("button");
      btn.type = "button";
      btn.textContent = b[0];
      btn.setAttribute("aria-label", b[1]);
      btn.addEventListener("click", b[2]);
      bar.appendChild(btn);
    });
  fig.insertBefore(bar, svg);
  function point(e) {
    var r = svg.getBoundingClientRect();
    return { x: box.x + (e.clientX - r.left) * box.w / r.width, y: box.y + (e.clientY - r.top) * box.h / r.height };
  }
  svg.addEventListener("wheel", function (e) {
    e.preventDefault();
    var p = point(e);
    zoom(e.deltaY < 0 ? 0.85 : 1 / 0.85, p.x, p.y);
  }, { passive: false });
  var drag = null;
  svg.addEventListener("pointerdown", function (e) { drag = { x: e.clientX, y: e.clientY, box: box }; });
  window.addEventListener("pointerup", function () { drag = null; });
  svg.addEventListener("pointermove", function (e) {
    if (!drag) { return; }
    var r = svg.getBoundingClientRect();
    box = { x: drag.box.x - (e.clientX - drag.x) * box.w / r.width,
            y: drag.box.y - (e.clientY - drag.y) * box.h / r.height, w: box.w, h: box.h };
    apply();
  });
})();
