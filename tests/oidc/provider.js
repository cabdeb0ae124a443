// A real OpenID provider (the certified npm package oidc-provider) for vigil's tests.
// Environment: PORT, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_URI,
// BACKCHANNEL_URI (where the provider posts logout tokens when a session ends).
// Accounts: "ana" (member alpha, user analyst) and "eve" (member alpha, user eve, whom
// the node does not know). Sign-in uses the package's own development login form.
import Provider from "oidc-provider";

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = {
  ana: { sub: "ana", preferred_username: "analyst", vigil_member: "alpha" },
  eve: { sub: "eve", preferred_username: "eve", vigil_member: "alpha" },
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    post_logout_redirect_uris: [process.env.POST_LOGOUT_URI],
    backchannel_logout_uri: process.env.BACKCHANNEL_URI,
    backchannel_logout_session_required: true,
    grant_types: ["authorization_code"],
    response_types: ["code"],
    token_endpoint_auth_method: "client_secret_basic",
  }],
  claims: { openid: ["sub"], profile: ["preferred_username", "vigil_member"] },
  pkce: { required: () => true },
  // logout tokens go to the test node on loopback, which the package's guard against
  // server-side request forgery refuses by default: the test provider lets them through
  fetch: (url, options) => {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
  },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return account; } };
  },
  // a first-party client: consent is granted without a prompt
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope("openid profile");
    grant.addOIDCClaims(["preferred_username", "vigil_member"]);
    await grant.save();
    return grant;
  },
});

provider.on("backchannel.error", (ctx, err, client) => {
  process.stdout.write(`backchannel error ${client.clientId}: ${err} ${err.cause}\n`);
});
provider.on("backchannel.success", (ctx, client) => {
  process.stdout.write(`backchannel logout sent to ${client.clientId}\n`);
});

provider.listen(port, "127.0.0.1", () => {
  process.stdout.write(`listening ${issuer}\n`);
});
