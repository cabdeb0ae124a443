// Live inbox: new shares arrive on the push stream (/api/v1/stream, authenticated by the
// session cookie) and are inserted at the top of the table. Reading works without this.
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
    if (status) { status.textContent = arrived + " new share(s) arrived since this page loaded."; }
  });
})();
