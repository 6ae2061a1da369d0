"""Authlib's OpenID Connect client (Python) signs a user in against scopegate: discovery, the
code flow with PKCE and a nonce, the ID token validated by Authlib (signature through the
published JWK Set, iss, aud, exp, iat, nonce, at_hash), and userinfo. tests/oidc.rs runs it; it
prints one line per step and exits non-zero on the first failure.

Usage: python3 authlib_rp.py ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI USERNAME PASSWORD
"""

import re
import sys
import warnings

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

warnings.simplefilter("ignore")  # authlib.jose announces its successor; it still works here
from authlib.jose import JsonWebKey, jwt  # noqa: E402
from authlib.oidc.core import CodeIDToken  # noqa: E402

issuer, client_id, client_secret, redirect_uri, username, password = sys.argv[1:7]


def step(what):
    print(f"ok {what}", flush=True)


def hidden(html, name):
    found = re.search(f'name="{name}" value="([^"]*)"', html)
    assert found, f"a {name} field on the page"
    return found.group(1).replace("&#x2F;", "/").replace("&amp;", "&")


meta = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
assert meta["issuer"] == issuer, meta["issuer"]
step("discovery")

# The user's browser: a cookie jar that signs in and answers the consent page.
browser = requests.Session()
login = browser.get(f"{issuer}/login", timeout=10).text
signed_in = browser.post(
    f"{issuer}/login",
    data={"csrf_token": hidden(login, "csrf_token"), "next": "/", "username": username, "password": password},
    allow_redirects=False,
    timeout=10,
)
assert signed_in.status_code == 302, signed_in.status_code

rp = OAuth2Session(
    client_id,
    client_secret,
    scope="openid profile email",
    redirect_uri=redirect_uri,
    code_challenge_method="S256",
)
verifier = generate_token(48)
nonce = generate_token(20)
url, state = rp.create_authorization_url(meta["authorization_endpoint"], nonce=nonce, code_verifier=verifier)
answer = browser.get(url, allow_redirects=False, timeout=10)
if answer.status_code == 200:
    answer = browser.post(
        f"{issuer}/oauth/authorize",
        data={"csrf_token": hidden(answer.text, "csrf_token"), "nonce": hidden(answer.text, "nonce"), "decision": "approve"},
        allow_redirects=False,
        timeout=10,
    )
assert answer.status_code == 302, answer.status_code
location = answer.headers["location"]
step("authorization response")

# Authlib checks state against the response and exchanges the code (client_secret_basic).
token = rp.fetch_token(
    meta["token_endpoint"], authorization_response=location, state=state, code_verifier=verifier
)
jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())
claims = jwt.decode(
    token["id_token"],
    jwks,
    claims_cls=CodeIDToken,
    claims_options={"iss": {"essential": True, "value": issuer}},
    claims_params={"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
)
claims.validate()
step("ID token")

info = rp.get(meta["userinfo_endpoint"], timeout=10).json()
assert info["sub"] == claims["sub"], (info, claims)
assert info["preferred_username"] == username, info
step("userinfo")
