// vigil console: security keys and passkeys (WebAuthn). Buttons carry their options
// (or where to fetch them), where to post the answer, and the page's CSRF token.
"use strict";
(function () {
  function b64(buf) {
    let s = "";
    new Uint8Array(buf).forEach(function (c) { s += String.fromCharCode(c); });
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function unb64(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    return Uint8Array.from(atob(s), function (c) { return c.charCodeAt(0); });
  }
  function creation(o) {
    o.challenge = unb64(o.challenge);
    o.user.id = unb64(o.user.id);
    (o.excludeCredentials || []).forEach(function (c) { c.id = unb64(c.id); });
    return o;
  }
  function request(o) {
    o.challenge = unb64(o.challenge);
    (o.allowCredentials || []).forEach(function (c) { c.id = unb64(c.id); });
    return o;
  }
  function asJSON(c) {
    const r = c.response;
    const out = { id: c.id, rawId: b64(c.rawId), type: c.type,
      clientExtensionResults: c.getClientExtensionResults(),
      response: { clientDataJSON: b64(r.clientDataJSON) } };
    if (r.attestationObject) {
      out.response.attestationObject = b64(r.attestationObject);
      if (r.getTransports) { out.response.transports = r.getTransports(); }
    } else {
      out.response.authenticatorData = b64(r.authenticatorData);
      out.response.signature = b64(r.signature);
      if (r.userHandle) { out.response.userHandle = b64(r.userHandle); }
    }
    if (c.authenticatorAttachment) { out.authenticatorAttachment = c.authenticatorAttachment; }
    return out;
  }
  async function post(url, csrf, body) {
    const r = await fetch(url, { method: "POST", credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf": csrf },
      body: JSON.stringify(body) });
    const j = await r.json().catch(function () { return {}; });
    if (!r.ok) {
      const e = j.error || j;
      throw new Error((e.message || "refused") + (e.code ? " (" + e.code + ")" : ""));
    }
    return j;
  }
  async function run(btn) {
    const d = btn.dataset;
    const status = document.getElementById("key-status");
    if (status) { status.textContent = ""; }
    try {
      let step = d.step || "";
      let options = d.options ? JSON.parse(d.options) : null;
      if (!options) {
        const got = await post(d.optionsUrl, d.csrf, {});
        step = got.step;
        options = got.options;
      }
      const cred = d.mode === "register"
        ? await navigator.credentials.create({ publicKey: creation(options) })
        : await navigator.credentials.get({ publicKey: request(options) });
      const nameInput = d.nameInput ? document.getElementById(d.nameInput) : null;
      const done = await post(d.target, d.csrf,
        { step: step, name: nameInput ? nameInput.value : "", credential: asJSON(cred) });
      window.location.assign(done.next);
    } catch (e) {
      if (status) { status.textContent = e.message || String(e); }
    }
  }
  document.querySelectorAll("button[data-webauthn]").forEach(function (b) {
    b.addEventListener("click", function (ev) { ev.preventDefault(); run(b); });
  });
})();
