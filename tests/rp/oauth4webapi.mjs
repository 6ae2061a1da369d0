// A relying party built on oauth4webapi (OpenID-certified, strict: it refuses responses that do
// not conform) signs a user in against scopegate and uses every capability the discovery
// document advertises for the code flow. tests/oidc.rs runs it; it prints one line per step
// and exits non-zero on the first failure.
//
// Usage: node oauth4webapi.mjs ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD
// EXTRA_CLIENTS (JSON: [{client_id, client_secret, alg, subject_type}]) names clients registered
// with the other signing algorithms and subject types discovery advertises, on the same
// redirect URI.
import * as oauth from 'oauth4webapi';
import { createHash, createPublicKey, verify } from 'node:crypto';

const [issuer, clientId, clientSecret, redirectUri, username, password] = process.argv.slice(2);
const insecure = { [oauth.allowInsecureRequests]: true }; // the tests serve plain HTTP on loopback
const client = { client_id: clientId };
const auth = oauth.ClientSecretBasic(clientSecret);
const step = (what) => console.log(`ok ${what}`);
const must = (cond, what) => {
  if (!cond) throw new Error(`failed: ${what}`);
};

// The browser: a cookie jar, and forms read from the pages.
const jar = new Map();
async function browse(url, init = {}) {
  const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const resp = await fetch(new URL(url, issuer), {
    ...init,
    redirect: 'manual',
    headers: { ...(init.headers || {}), ...(cookie ? { cookie } : {}) },
  });
  for (const line of resp.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const at = pair.indexOf('=');
    jar.set(pair.slice(0, at), pair.slice(at + 1));
  }
  return resp;
}
const hidden = (html, name) => {
  const found = html.match(new RegExp(`name="${name}" value="([^"]*)"`));
  must(found, `a ${name} field on the page`);
  return found[1].replaceAll('&#x2F;', '/').replaceAll('&amp;', '&');
};
const post = (url, fields) =>
  browse(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
  });

// Discovery (OpenID Connect Discovery 1.0 §4): the library checks that `issuer` matches.
const issuerUrl = new URL(issuer);
const as = await oauth.processDiscoveryResponse(
  issuerUrl,
  await oauth.discoveryRequest(issuerUrl, { algorithm: 'oidc', ...insecure }),
);
must(as.authorization_response_iss_parameter_supported === true, 'RFC 9207 advertised');
must(as.code_challenge_methods_supported.includes('S256'), 'PKCE S256 advertised');
must(as.end_session_endpoint, 'end_session_endpoint advertised');
step('discovery');

// Sign in, then the authorization request with PKCE, state and nonce.
const login = await (await browse('/login')).text();
const signedIn = await post('/login', {
  csrf_token: hidden(login, 'csrf_token'),
  next: '/',
  username,
  password,
});
must(signedIn.status === 302, `sign-in redirects (got ${signedIn.status})`);

async function authorize(extra = {}, id = clientId) {
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const url = new URL(as.authorization_endpoint);
  const params = {
    client_id: id,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid profile email',
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...extra,
  };
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  let resp = await browse(url);
  if (resp.status === 200) {
    const page = await resp.text();
    resp = await post('/oauth/authorize', {
      csrf_token: hidden(page, 'csrf_token'),
      nonce: hidden(page, 'nonce'),
      decision: 'approve',
    });
  }
  must(resp.status === 302, `the authorization answer redirects (got ${resp.status})`);
  const back = new URL(resp.headers.get('location'));
  if (params.response_type !== 'code') return { back, state, verifier, nonce };
  // Checks state, and iss against the discovered issuer (RFC 9207).
  const callback = oauth.validateAuthResponse(as, client, back, state);
  return { callback, verifier, nonce };
}

const { callback, verifier, nonce } = await authorize();
step('authorization response (state, iss)');

// The code exchange: the library validates the ID token's claims (iss, aud, exp, iat, nonce,
// at_hash, auth_time against max_age) itself.
const tokens = await oauth.processAuthorizationCodeResponse(
  as,
  client,
  await oauth.authorizationCodeGrantRequest(as, client, auth, callback, redirectUri, verifier, insecure),
  { expectedNonce: nonce, requireIdToken: true },
);
const claims = oauth.getValidatedIdTokenClaims(tokens);
must(claims.auth_time, 'auth_time in the ID token');
step('code exchange and ID token claims');

// The ID token's signature, through the published JWK Set, with node's own crypto: the
// digest and signature encoding JWA gives each algorithm.
const jwa = {
  RS256: ['sha256', {}],
  ES256: ['sha256', { dsaEncoding: 'ieee-p1363' }],
  EdDSA: [null, {}],
};
async function verifySignature(jws, alg = 'RS256') {
  const [h, p, s] = jws.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  must(header.alg === alg, `signed with ${alg} (got ${header.alg})`);
  const jwks = await (await fetch(as.jwks_uri)).json();
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  must(jwk && jwk.alg === alg, `the kid ${header.kid} is published for ${alg}`);
  const [digest, options] = jwa[alg];
  const key = { key: createPublicKey({ key: jwk, format: 'jwk' }), ...options };
  must(verify(digest, Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url')), `${alg} signature`);
}
await verifySignature(tokens.id_token);
step('ID token signature through jwks_uri');

// UserInfo: the library checks that `sub` is the ID token's.
const info = await oauth.processUserInfoResponse(
  as,
  client,
  claims.sub,
  await oauth.userInfoRequest(as, client, tokens.access_token, insecure),
);
must(info.preferred_username === username, 'profile claim');
must(typeof info.email === 'string', 'email claim');
step('userinfo');

// prompt=none with a session and a remembered consent: a code, no page.
const silent = await authorize({ prompt: 'none' });
must(silent.callback.get('code'), 'prompt=none gives a code');
step('prompt=none');

// Refresh: a new ID token for the same user, with the original auth_time (Core §12.2).
const refreshed = await oauth.processRefreshTokenResponse(
  as,
  client,
  await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token, insecure),
);
const again = oauth.getValidatedIdTokenClaims(refreshed);
must(again && again.sub === claims.sub && again.auth_time === claims.auth_time, 'refreshed ID token');
await verifySignature(refreshed.id_token);
step('refresh');

// Introspection and revocation (RFC 7662, RFC 7009).
const introspect = async (token) =>
  oauth.processIntrospectionResponse(
    as,
    client,
    await oauth.introspectionRequest(as, client, auth, token, insecure),
  );
must((await introspect(refreshed.access_token)).active === true, 'active before revocation');
await oauth.processRevocationResponse(
  await oauth.revocationRequest(as, client, auth, refreshed.access_token, insecure),
);
must((await introspect(refreshed.access_token)).active === false, 'inactive after revocation');
step('introspection and revocation');

// Every other signing algorithm and subject type discovery advertises, each on a client
// registered for it. The library checks the ID token's alg against the client's
// id_token_signed_response_alg, its claims (at_hash in the algorithm's hash), and that
// userinfo's sub is the ID token's; a pairwise sub is not the public one.
const extras = JSON.parse(process.env.EXTRA_CLIENTS || '[]');
for (const alg of as.id_token_signing_alg_values_supported) {
  must(alg === 'RS256' || extras.some((e) => e.alg === alg), `a client signed with ${alg}`);
}
for (const type of as.subject_types_supported) {
  must(type === 'public' || extras.some((e) => e.subject_type === type), `a ${type} client`);
}
for (const e of extras) {
  const other = { client_id: e.client_id, id_token_signed_response_alg: e.alg };
  const otherAuth = oauth.ClientSecretBasic(e.client_secret);
  const signed = await authorize({}, e.client_id);
  const got = await oauth.processAuthorizationCodeResponse(
    as,
    other,
    await oauth.authorizationCodeGrantRequest(
      as, other, otherAuth, signed.callback, redirectUri, signed.verifier, insecure,
    ),
    { expectedNonce: signed.nonce, requireIdToken: true },
  );
  const theirs = oauth.getValidatedIdTokenClaims(got);
  await verifySignature(got.id_token, e.alg);
  await oauth.processUserInfoResponse(
    as,
    other,
    theirs.sub,
    await oauth.userInfoRequest(as, other, got.access_token, insecure),
  );
  must((theirs.sub === claims.sub) === (e.subject_type === 'public'), `${e.subject_type} sub`);
  step(`${e.alg} ${e.subject_type}`);
}

// The hybrid flow (Core §3.3), which discovery lists: `code id_token` answered in the
// fragment, its ID token checked by the library (signature through jwks_uri, nonce, c_hash),
// then the code redeemed with PKCE by the public client HYBRID_CLIENT.
must(as.response_types_supported.includes('code id_token'), 'the hybrid flow advertised');
const hybrid = { client_id: process.env.HYBRID_CLIENT };
must(hybrid.client_id, 'a public client for the hybrid flow (HYBRID_CLIENT)');
const front = await authorize({ response_type: 'code id_token' }, hybrid.client_id);
const hybridCallback = await oauth.validateCodeIdTokenResponse(
  as, hybrid, front.back, front.nonce, front.state, undefined, insecure,
);
const hybridTokens = await oauth.processAuthorizationCodeResponse(
  as,
  hybrid,
  await oauth.authorizationCodeGrantRequest(
    as, hybrid, oauth.None(), hybridCallback, redirectUri, front.verifier, insecure,
  ),
  { expectedNonce: front.nonce, requireIdToken: true },
);
must(oauth.getValidatedIdTokenClaims(hybridTokens).sub === claims.sub, 'hybrid: the same user');
step('hybrid code id_token');

// The implicit flow (Core §3.2), which discovery lists too. oauth4webapi leaves it out by
// design, so its checks (§3.2.2.11) are made here: the signature through jwks_uri, iss, aud,
// exp, the nonce, and at_hash when an access token comes with it. `token` alone is OAuth's
// implicit grant: its access token reads userinfo.
for (const responseType of ['id_token', 'id_token token', 'token']) {
  must(as.response_types_supported.includes(responseType), `${responseType} advertised`);
  const answer = await authorize({ response_type: responseType }, hybrid.client_id);
  const got = new URLSearchParams(answer.back.hash.slice(1));
  must(got.get('state') === answer.state && got.get('iss') === as.issuer, `${responseType}: state and iss`);
  const accessToken = got.get('access_token');
  const words = responseType.split(' ');
  must(!!accessToken === words.includes('token'), `${responseType}: access token`);
  const idToken = got.get('id_token');
  must(!!idToken === words.includes('id_token'), `${responseType}: ID token`);
  if (idToken) {
    await verifySignature(idToken);
    const c = JSON.parse(Buffer.from(idToken.split('.')[1], 'base64url'));
    must(c.iss === as.issuer && c.aud === hybrid.client_id && c.exp > Date.now() / 1000, 'iss, aud, exp');
    must(c.nonce === answer.nonce && c.sub === claims.sub, 'nonce and sub');
    const half = accessToken && createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');
    must(c.at_hash === (half || undefined), `${responseType}: at_hash`);
  }
  if (accessToken) {
    const me = await oauth.processUserInfoResponse(
      as, hybrid, claims.sub, await oauth.userInfoRequest(as, hybrid, accessToken, insecure),
    );
    must(me.sub === claims.sub, `${responseType}: userinfo`);
  }
  step(`implicit ${responseType}`);
}

// RP-initiated logout: confirmed on the page, then back to the registered URI with state.
const logout = new URL(as.end_session_endpoint);
logout.searchParams.set('id_token_hint', refreshed.id_token);
logout.searchParams.set('post_logout_redirect_uri', redirectUri);
logout.searchParams.set('state', 'bye');
const confirm = await browse(logout);
must(confirm.status === 200, `the sign-out page (got ${confirm.status})`);
const page = await confirm.text();
const out = await post('/oauth/logout', {
  csrf_token: hidden(page, 'csrf_token'),
  client_id: hidden(page, 'client_id'),
  post_logout_redirect_uri: hidden(page, 'post_logout_redirect_uri'),
  state: hidden(page, 'state'),
});
must(out.status === 302, `sign-out redirects (got ${out.status})`);
const after = new URL(out.headers.get('location'));
must(after.origin + after.pathname === new URL(redirectUri).origin + new URL(redirectUri).pathname, 'back to the registered URI');
must(after.searchParams.get('state') === 'bye', 'state on the way back');
const signedOut = await authorize({ prompt: 'none' }).catch((e) => e);
must(signedOut instanceof oauth.AuthorizationResponseError && signedOut.error === 'login_required', 'signed out: login_required');
step('RP-initiated logout');
