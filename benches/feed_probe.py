#!/usr/bin/env python3
"""Helpers for benches/feed.sh, over plain keep-alive HTTP (stdlib only).

  feed_probe.py propagate A_URL B_URL BASIC_B64 TRIALS
      Per trial: a client_credentials token from A, three guarded GETs on B (its cache warm),
      revocation on A (RFC 7009), then: is A's very next request refused, and how long until B
      refuses. Prints the latencies' p50 / p99 / max in ms.
  feed_probe.py fill A_URL B_URL BASIC_B64 N
      Issues N tokens on A and presents each once to B's guarded GET (so B caches N tokens).
"""
import base64, http.client, json, statistics, sys, time, urllib.parse


class Conn:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.c = http.client.HTTPConnection(u.hostname, u.port)

    def req(self, method, path, headers=None, body=None):
        self.c.request(method, path, body=body, headers=headers or {})
        r = self.c.getresponse()
        return r.status, r.read()


def token(a, basic):
    status, body = a.req("POST", "/oauth/token", {
        "Authorization": "Basic " + basic,
        "Content-Type": "application/x-www-form-urlencoded",
    }, "grant_type=client_credentials&scope=polls:detail")
    assert status == 200, (status, body)
    return json.loads(body)["access_token"]


def guarded(conn, tok):
    return conn.req("GET", "/polls/1/", {"Authorization": "Bearer " + tok})[0]


def propagate(a_url, b_url, basic, trials):
    a, b = Conn(a_url), Conn(b_url)
    lat, a_missed = [], 0
    for _ in range(trials):
        tok = token(a, basic)
        for _ in range(3):
            assert guarded(b, tok) == 200
        assert guarded(a, tok) == 200
        status, _ = a.req("POST", "/oauth/revoke", {
            "Authorization": "Basic " + basic,
            "Content-Type": "application/x-www-form-urlencoded",
        }, "token=" + tok)
        assert status == 200
        t0 = time.perf_counter()
        if guarded(a, tok) != 401:
            a_missed += 1
        while guarded(b, tok) == 200:
            if time.perf_counter() - t0 > 5:
                raise SystemExit("B still accepts a revoked token after 5 s")
        lat.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.05)
    lat.sort()
    p99 = lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))]
    print(f"revocation on A -> refusal on B, {trials} trials: p50 {statistics.median(lat):.1f} ms, "
          f"p99 {p99:.1f} ms, max {lat[-1]:.1f} ms; A accepted it on its next request in "
          f"{a_missed} of {trials}")


def fill(a_url, b_url, basic, n):
    a, b = Conn(a_url), Conn(b_url)
    for _ in range(n):
        assert guarded(b, token(a, basic)) == 200


if __name__ == "__main__":
    cmd, a_url, b_url, basic, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    {"propagate": propagate, "fill": fill}[cmd](a_url, b_url, basic, n)
