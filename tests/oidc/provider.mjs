// A real OpenID Provider for chainsweb's single sign-on tests: the certified `oidc-provider`
// package, configured here the way an organisation's IdP would be, with the pages it needs (a
// password sign-in, first-party consent, sign-out) and nothing loaded from the network.
//
//   node tests/oidc/provider.mjs CONFIG.json
//
// CONFIG.json (written by tests/ops/oidc.py):
//   issuer        http://127.0.0.1:PORT (the port is the one it listens on)
//   clients       oidc-provider client metadata (client_id, client_secret, redirect_uris, ...)
//   users_file    {"alice": {"sub", "password", "email", "name", "groups": [...]}}, read on every
//                 sign-in and claims request, so a test changes a user's groups between sign-ins
//   faults_file   {"id_token": null | "expired" | "wrong-audience" | "wrong-nonce"}, read when an
//                 ID Token is issued: the provider misbehaves the way a skewed clock, a token
//                 meant for another client or a replayed token would look to the relying party
//   record_file   JSON Lines of every code, access token and ID Token issued (the log-secrecy
//                 test greps chainsweb's logs for them)
//
// Prints "listening <issuer>" on stdout once it accepts connections.

import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import { URL } from 'node:url';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = new URL(config.issuer);

const readJson = (path, fallback) => {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    if (error.code === 'ENOENT') return fallback;
    throw error;
  }
};
const users = () => readJson(config.users_file, {});
const fault = () => readJson(config.faults_file, {}).id_token || null;
const record = (kind, value) => {
  if (value) appendFileSync(config.record_file, `${JSON.stringify({ kind, value })}\n`);
};

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>${escape(title)}</title></head><body><main><h1>${escape(title)}</h1>${body}</main></body></html>`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer.origin, {
  clients: config.clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomUUID(), randomUUID()] },
  // chainsweb must prove possession of the code (RFC 7636), whatever the client type.
  pkce: { methods: ['S256'], required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  async findAccount(ctx, id) {
    const user = Object.values(users()).find((u) => u.sub === id);
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        const now = Object.entries(users()).find(([, u]) => u.sub === id);
        if (!now) return { sub: id };
        const [username, current] = now;
        return {
          sub: id,
          email: current.email,
          email_verified: true,
          name: current.name || username,
          preferred_username: username,
          groups: current.groups || [],
        };
      },
    };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = page('Sign out of the test provider?', `${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<p>You are signed out of the test provider.</p>');
      },
    },
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Provider error', `<pre>${escape(JSON.stringify(out))}</pre>`);
  },
});
provider.proxy = false;

// Faults, applied through the provider's own ID Token model so that the token is still signed
// with its key and carries its issuer: only the one property under test is wrong.
const issueIdToken = provider.IdToken.prototype.issue;
provider.IdToken.prototype.issue = async function issue(options = {}) {
  if (options.use === 'idtoken') {
    const kind = fault();
    if (kind === 'expired') {
      // As a provider whose clock is five minutes slow would issue it.
      options = { ...options, expiresAt: Math.floor(Date.now() / 1000) - 300 };
    } else if (kind === 'wrong-audience') {
      // Exactly the token another registered client would get for this user.
      this.client = await provider.Client.find(config.other_client_id);
    } else if (kind === 'wrong-nonce') {
      // A token replayed from another sign-in carries that sign-in's nonce.
      this.set('nonce', randomUUID());
    }
  }
  return issueIdToken.call(this, options);
};

provider.on('authorization_code.saved', (code) => record('code', code.jti));
provider.on('access_token.saved', (token) => record('access_token', token.jti));
provider.on('server_error', (ctx, error) => console.error('server_error', error));

const readForm = (req) =>
  new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => resolve(new URLSearchParams(body)));
    req.on('error', reject);
  });

const html = (res, status, body) => {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
};

const loginForm = (uid, error = '') =>
  page('Sign in to the test provider', `${error ? `<p role="alert">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
<label>Username <input name="username" autofocus></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Continue</button></form>`);

// First-party client: the organisation consented for its people; grant what was asked.
async function consent(req, res, details) {
  const { prompt, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  await provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, {
    mergeWithLastSubmission: true,
  });
}

async function interaction(req, res, url) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === 'GET') {
    if (details.prompt.name === 'consent') return consent(req, res, details);
    return html(res, 200, loginForm(details.uid));
  }
  if (req.method === 'POST' && url.pathname.endsWith('/login')) {
    const form = await readForm(req);
    const user = users()[form.get('username') || ''];
    if (!user || user.password !== form.get('password')) {
      return html(res, 200, loginForm(details.uid, 'Wrong username or password.'));
    }
    return provider.interactionFinished(req, res, { login: { accountId: user.sub } }, {
      mergeWithLastSubmission: false,
    });
  }
  return html(res, 405, page('Method not allowed', ''));
}

const callback = provider.callback();

const server = http.createServer((req, res) => {
  const url = new URL(req.url, issuer.origin);
  if (url.pathname.startsWith('/interaction/')) {
    interaction(req, res, url).catch((error) => {
      console.error('interaction', error);
      if (!res.headersSent) html(res, 400, page('Interaction failed', `<p>${escape(error.message)}</p>`));
    });
    return;
  }
  if (url.pathname === '/token' && req.method === 'POST') {
    // Keep what the token endpoint hands out, for the log-secrecy test.
    const end = res.end.bind(res);
    res.end = (chunk, ...rest) => {
      try {
        const body = JSON.parse(Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
        record('id_token', body.id_token);
        record('access_token', body.access_token);
      } catch {
        // an error response: nothing was issued
      }
      return end(chunk, ...rest);
    };
  }
  callback(req, res);
});

server.listen(Number(issuer.port), issuer.hostname, () => {
  console.log(`listening ${issuer.origin}`);
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
