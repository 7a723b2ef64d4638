#!/usr/bin/env python3
"""Aggregate generation throughput and time to first token of a running `frugal serve`.

usage: bench/serve_bench.py [--url http://127.0.0.1:8080] [--streams 1,4,16] [--requests 2]
                            [--max-tokens 64] [--prompt-words 32] [--cached-prefix-words 1000]

For each concurrency level N, N client threads each stream --requests greedy chat completions
(ignoring EOS is not possible over the API, so counts come from usage.completion_tokens).
Reports aggregate generated tok/s (all streams' tokens / wall time), per-stream decode tok/s
and mean / max time to first token. Standard library only.
"""
import argparse
import http.client
import json
import threading
import time
import urllib.parse


def one_request(url, prompt, max_tokens):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    body = json.dumps({"messages": [{"role": "user", "content": prompt}], "max_tokens": max_tokens,
                       "temperature": 0, "stream": True, "stream_options": {"include_usage": True}})
    t0 = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f"status {resp.status}: {resp.read()[:200]!r}")
    ttft, n_tokens = None, 0
    for raw in resp:
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        chunk = json.loads(line[6:])
        if chunk.get("usage"):
            n_tokens = chunk["usage"]["completion_tokens"]
        elif ttft is None and chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
            ttft = time.perf_counter() - t0
    conn.close()
    return ttft or 0.0, n_tokens, time.perf_counter() - t0


def run_level(url, n_streams, n_requests, max_tokens, prompt_words):
    results, lock = [], threading.Lock()

    def client(i):
        for k in range(n_requests):
            prompt = f"Stream {i} request {k}: " + " ".join(f"word{j}" for j in range(prompt_words))
            r = one_request(url, prompt, max_tokens)
            with lock:
                results.append(r)

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(n_streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    tokens = sum(r[1] for r in results)
    ttfts = [r[0] for r in results]
    per_stream = [r[1] / max(r[2] - r[0], 1e-9) for r in results]
    print(f"streams {n_streams:3d}: {len(results)} requests, {tokens} tokens in {wall:.2f} s = "
          f"{tokens / wall:.1f} tok/s aggregate; per stream {sum(per_stream) / len(per_stream):.1f} tok/s; "
          f"TTFT mean {1000 * sum(ttfts) / len(ttfts):.0f} ms, max {1000 * max(ttfts):.0f} ms")


def cached_prefix_ttft(url, words, max_tokens):
    """The same long prompt twice: the second request finds its prefix in the prompt cache."""
    prompt = "Summarise: " + " ".join(f"word{j}" for j in range(words))
    cold, n1, _ = one_request(url, prompt, max_tokens)
    warm, n2, _ = one_request(url, prompt, max_tokens)
    print(f"prompt of {words} words: TTFT {1000 * cold:.0f} ms uncached, {1000 * warm:.0f} ms "
          f"with the prefix cached")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--streams", default="1,4,16")
    ap.add_argument("--requests", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--prompt-words", type=int, default=32)
    ap.add_argument("--cached-prefix-words", type=int, default=0,
                    help="also time the first token of one long prompt sent twice (0: skip)")
    a = ap.parse_args()
    for n in (int(x) for x in a.streams.split(",")):
        run_level(a.url, n, a.requests, a.max_tokens, a.prompt_words)
    if a.cached_prefix_words > 0:
        cached_prefix_ttft(a.url, a.cached_prefix_words, 8)


if __name__ == "__main__":
    main()
