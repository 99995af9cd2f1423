#!/usr/bin/env python3
"""Measures the loss window of asynchronous decision recording.

Starts `hms-ach serve` (SQLite, demo tenant) with decisions recorded
asynchronously, sends decisions from many keep-alive connections, kills the
server with SIGKILL mid-load, restarts it and counts the permits that were
answered but are not in the ledger.

    scripts/async_loss.py --binary target/release/hms-ach --runs 5 --seconds 5
"""
import argparse
import http.client
import json
import os
import signal
import subprocess
import tempfile
import threading
import time

REQUEST = json.dumps({
    "subject": {"type": "Staff", "id": "dr-grey"},
    "action": {"name": "read_lab_result"},
    "resource": {"type": "LabResult", "id": "lr-1",
                 "properties": {"patient": {"type": "Patient", "id": "p-1001"}}},
})


def start(binary, data, port, first):
    env = dict(os.environ, HMS_ACH__LISTEN=f"127.0.0.1:{port}", RUST_LOG="error")
    server = subprocess.Popen([binary, "serve", "--database-url", f"sqlite://{data}"],
                              env=env, stdout=subprocess.PIPE if first else subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, text=True)
    token = None
    if first:
        for line in server.stdout:
            if "keep it): " in line:
                token = line.split("keep it): ")[1].strip()
                break
    for _ in range(200):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return server, token
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not start")


def call(port, token, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body, {"Authorization": f"Bearer {token}",
                                      "Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"null")


def load(port, token, answered, stop):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    while not stop.is_set():
        try:
            conn.request("POST", "/demo/access/v1/evaluation", REQUEST, headers)
            answer = json.loads(conn.getresponse().read())
        except (OSError, http.client.HTTPException, ValueError):
            return
        if answer.get("decision") is True:
            answered.append((time.monotonic(), answer["context"]["decision_id"]))


def recorded_ids(port, token):
    ids, after = set(), None
    while True:
        path = "/demo/ledger/entries?kind=decision&limit=1000" + (f"&after={after}" if after else "")
        _, page = call(port, token, "GET", path)
        ids.update(entry["decision_id"] for entry in page["entries"])
        after = page.get("next_after")
        if after is None:
            return ids


def run(args, port):
    data = tempfile.mkdtemp(prefix="hms-async-loss-")
    server, token = start(args.binary, data, port, True)
    status, _ = call(port, token, "PUT", "/demo/ledger/settings", json.dumps({"decisions": "asynchronous"}))
    assert status == 200, status
    answered, stop = [], threading.Event()
    threads = [threading.Thread(target=load, args=(port, token, answered, stop)) for _ in range(args.connections)]
    for thread in threads:
        thread.start()
    time.sleep(args.seconds)
    killed_at = time.monotonic()
    server.send_signal(signal.SIGKILL)
    server.wait()
    stop.set()
    for thread in threads:
        thread.join()
    server, _ = start(args.binary, data, port, False)
    ids = recorded_ids(port, token)
    server.send_signal(signal.SIGTERM)
    server.wait()
    lost = [(at, id_) for at, id_ in answered if id_ not in ids]
    window = (killed_at - min(at for at, _ in lost)) * 1000 if lost else 0.0
    rate = len(answered) / args.seconds
    print(f"answered {len(answered)} permits ({rate:.0f}/s), lost {len(lost)}, "
          f"oldest lost answered {window:.1f} ms before the kill")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/hms-ach")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--port", type=int, default=18181)
    args = parser.parse_args()
    for _ in range(args.runs):
        run(args, args.port)


if __name__ == "__main__":
    main()
