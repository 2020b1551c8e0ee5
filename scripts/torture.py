#!/usr/bin/env python3
"""The fault campaign: drives the real `bcli` binary against `bcli sandbox serve --data` and checks
that the ledger tells the truth after every fault (issue 8). Python 3 standard library only.

Invariants checked against the sandbox's journal (what the server really committed):
  journal-has-intent     every journal write has an intent row with its client_request_id
  committed-has-journal  no committed step lacks its journal write (and the body digests agree)
  journal-matches-step   no write the server committed reads `failed` or `skipped` in the ledger
  no-false-completed     no run with a missing or intent-only step reads `completed`
  run-state              the shared run-state rules: an unknown step reads `in_doubt`, a dead
                         unfinished run without one reads `interrupted`, a dead run never `running`
  fsck-clean             `bcli batch fsck` exits 0 (leftover temp files are notices)
  head-file              `<store>/refs/head` holds `sha256:<64 hex>\n` naming a finished run's record
  rollback-*             a killed rollback re-run to the end DELETEd no record twice, its run's
                         created records are gone and its patched records carry their pre-run values
  no-duplicate-write     the journal holds no write beyond the manifest's own
  retry-rule             writes answered 429/503 (nothing processed) are retried and land once
  exit-code / crash      mutated inputs and damaged stores give documented exit codes, never a
                         crash signal or a stack trace
  damaged-refused        a damaged store is refused with exit 9 and nothing new is created
  exactly-once           (recover) after kills of `batch run`, `batch reconcile` and `batch resume`,
                         each write of the manifest is in the journal once: none twice, none
                         missing once the run's family is done
  recover-equals-reference  (recover) the records the recovered run left equal those of an
                         uninterrupted run of the same manifest (another tag, ids aside)
  recover-completed      (recover) a recovered run, or its last resume run, reads `completed`;
                         `verify --all` exits 0 (verify-clean)

Usage: scripts/torture [--quick] [--seed N] [--runs N] [--rollbacks N] [--sections a,b] [--keep] [--report FILE]
"""

import argparse
import hashlib
import json
import os
import random
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

COMPANY = "4d1f3c2a-5b6e-4f70-8a91-b2c3d4e5f601"
WRITE_METHODS = {"POST", "PATCH", "DELETE"}
# Step statuses that mean the server answered 2xx to the original request.
COMMITTED = {"committed", "replayed", "rolled_back", "rollback_skipped", "rollback_failed"}
CRASH_TEXT = re.compile(
    r"Fatal error|Stack dump|Current stack trace|Swift runtime failure|Segmentation fault|"
    r"Illegal instruction|Program crashed|SIGSEGV|SIGILL|SIGTRAP|SIGABRT|Thread \d+ crashed|"
    r"^\s*\d+\s+0x[0-9a-f]{8,}|#\d+ 0x[0-9a-f]+ in ", re.M)
# Only loopback: no proxy from the environment, for this script or for bcli.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"}
SECTIONS = ["self-test", "kill-run", "kill-run-hold", "kill-rollback", "faults", "concurrent", "new-store-race", "recover",
            "mutated-manifests", "mutated-configs", "mutated-bundles", "damaged-ledgers", "enospc"]


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


class Result:
    def __init__(self, code, out, err, secs):
        self.code, self.out, self.err, self.secs = code, out, err, secs

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError:
            return None


# --------------------------------------------------------------------------------------------
# The sandbox: a `bcli sandbox serve --data DIR` child process and its admin endpoints.

class Sandbox:
    def __init__(self, t, name, latency=None):
        self.t = t
        self.data = os.path.join(t.root, name + "-sandbox")
        os.makedirs(self.data, exist_ok=True)
        self.latency = latency
        self.errlog = open(os.path.join(t.root, name + "-sandbox.log"), "wb")
        # A small server page size, so the kill manifests' `all: true` GET follows nextLinks and a
        # kill or a held request can land between its pages.
        args = [t.bcli, "sandbox", "serve", "--data", self.data, "--no-demo-data", "--log-level", "error",
                "--max-page-size", "2"]
        if latency:
            args += ["--latency", latency]
        self.proc = t.spawn_raw(args, stdout=subprocess.PIPE, stderr=self.errlog)
        line = b""
        deadline = time.monotonic() + 60
        fd = self.proc.stdout.fileno()
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise RuntimeError("the sandbox did not print its URL (see %s)" % self.errlog.name)
            r, _, _ = select.select([fd], [], [], left)
            if r:
                chunk = os.read(fd, 1)
                if not chunk:
                    raise RuntimeError("the sandbox exited before printing its URL")
                line += chunk
        self.url = line.decode().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            raise RuntimeError("unexpected sandbox URL %r" % self.url)
        self.token = None
        self.journal_cache = []

    def http(self, method, path, body=None, headers=None, timeout=30):
        data = None
        hdrs = dict(headers or {})
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with DIRECT.open(req, timeout=timeout) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except (urllib.error.URLError, OSError) as e:
            if self.proc.poll() is not None:
                raise RuntimeError("the sandbox exited with %s (log: %s)" % (self.proc.returncode, self.errlog.name))
            raise RuntimeError("%s %s: %s" % (method, path, e))

    def set_faults(self, faults, latency="default"):
        lat = self.latency if latency == "default" else latency
        status, body = self.http("POST", "/_sandbox/faults", {"faults": list(faults), "latency": lat})
        if status != 200:
            raise RuntimeError("setting faults %r failed: %d %s" % (faults, status, body[:300]))

    def faults(self):
        status, body = self.http("GET", "/_sandbox/faults")
        return json.loads(body)

    def release(self):
        self.http("POST", "/_sandbox/release")

    def await_held(self, proc, timeout=30):
        """Waits until a request is held (True) or the client exited first (False)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.faults().get("held", 0) >= 1:
                return True
            if proc.poll() is not None:
                return self.faults().get("held", 0) >= 1
            time.sleep(0.003)
        return False

    def quiesce(self, timeout=30):
        """Clears faults (releasing held requests) and waits until no request is in flight, so the
        journal holds every write the server will ever commit for the processes that are gone."""
        self.set_faults([])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            f = self.faults()
            if f.get("held", 0) == 0 and not any(f.get("in_flight", {}).values()) and not any(f.get("queued", {}).values()):
                return
            self.release()
            time.sleep(0.005)
        raise RuntimeError("the sandbox still has requests in flight after %ds" % timeout)

    def journal(self):
        after = self.journal_cache[-1]["seq"] if self.journal_cache else 0
        status, body = self.http("GET", "/_sandbox/journal?after=%d" % after)
        if status != 200:
            raise RuntimeError("journal: %d" % status)
        for line in body.decode().splitlines():
            if line.strip():
                self.journal_cache.append(json.loads(line))
        return self.journal_cache

    def api(self, method, path, body=None, headers=None):
        if self.token is None:
            form = urllib.parse.urlencode({
                "grant_type": "client_credentials", "client_id": "bcli-sandbox",
                "client_secret": "bcli-sandbox-secret",
                "scope": "https://api.businesscentral.dynamics.com/.default"}).encode()
            status, resp = self.http("POST", "/sandbox/oauth2/v2.0/token", form,
                                     {"Content-Type": "application/x-www-form-urlencoded"})
            self.token = json.loads(resp)["access_token"]
        hdrs = {"Authorization": "Bearer " + self.token, "client-request-id": "torture-" + os.urandom(6).hex()}
        hdrs.update(headers or {})
        status, resp = self.http(method, "/v2.0/sandbox/production/api/v2.0/companies(%s)/%s" % (COMPANY, path),
                                 body, hdrs)
        try:
            return status, json.loads(resp) if resp else None
        except ValueError:
            return status, None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.t.forget(self.proc)
        self.errlog.close()


# --------------------------------------------------------------------------------------------
# A world: one sandbox and the stores that talk to it. The invariants are checked per world.

class World:
    def __init__(self, t, section, latency=None):
        self.t = t
        self.section = section
        self.sbx = Sandbox(t, section, latency)
        self.stores = []
        self.manifests = {}     # realpath -> (step count, write step count)
        self.steps = {}         # client_request_id -> step dict (+ run_id, store)
        self.runs = {}          # (store, run id) -> run JSON (list entry) + steps
        self.final = set()      # (store, run id) whose rows can no longer change
        self.journal_seen = 0
        self.journal_crids = {}  # crid -> journal entry
        self.ignored_crids = set()
        self.head_reported = set()
        self.over_reported = set()
        self.run_by_id = {}

    def store(self, name):
        path = os.path.join(self.t.root, self.section + "-" + name)
        if path not in self.stores:
            self.stores.append(path)
        return path

    def env(self, store):
        return self.t.env(store, self.sbx.url)

    def manifest(self, name, text, steps, writes):
        path = os.path.join(self.t.root, self.section + "-" + name + ".yaml")
        with open(path, "w") as f:
            f.write(text)
        self.manifests[os.path.realpath(path)] = (steps, writes)
        return path

    def bcli(self, args, store, **kw):
        kw.setdefault("section", self.section)
        return self.t.run(args, self.env(store), **kw)

    def spawn(self, args, store):
        return self.t.spawn(args, self.env(store))

    # ---- the checks --------------------------------------------------------------------------

    def check(self, attempt, dirty=()):
        """Checks every invariant against the journal; returns the number of violations found.
        `dirty` names (store, run id) pairs whose rows may have changed (rollback marks)."""
        t = self.t
        before = t.violation_count
        self.sbx.quiesce()
        for key in dirty:
            self.final.discard(key)
        for store in self.stores:
            if not os.path.exists(os.path.join(store, "ledger.sqlite3")):
                continue
            res = self.bcli(["batch", "list", "--format", "json", "--limit", "1000000"], store, ctx=attempt)
            doc = res.json()
            if res.code != 0 or doc is None:
                t.violation("ledger-readable", self.section, attempt, "`batch list` exit %d: %s" % (res.code, res.err.strip()[-300:]))
                continue
            for r in doc.get("runs", []):
                key = (store, r["id"])
                if key in self.final:
                    continue
                st = self.bcli(["batch", "state", r["id"], "--format", "json"], store, ctx=attempt)
                sdoc = st.json()
                if st.code != 0 or sdoc is None:
                    t.violation("ledger-readable", self.section, attempt, "`batch state %s` exit %d: %s" % (r["id"], st.code, st.err.strip()[-300:]))
                    continue
                run = sdoc["run"]
                run["_list_state"] = r["state"]
                run["_store"] = store
                steps = sdoc["steps"]
                self.runs[key] = (run, steps)
                self.run_by_id[r["id"]] = run
                for s in steps:
                    s["_run"] = r["id"]
                    s["_kind"] = run.get("kind")
                    self.steps[s["client_request_id"]] = s
                self.check_run(attempt, run, steps)
                # Checks run when no bcli process is alive, so a run's rows change only when a
                # rollback marks them (the caller passes those runs as dirty).
                self.final.add(key)
            self.check_head(attempt, store, doc.get("runs", []))
        # The journal: every write has an intent, none twice, none beyond the manifest's own.
        journal = self.sbx.journal()
        for e in journal[self.journal_seen:]:
            crid = e.get("client_request_id")
            where = "journal seq %s: %s %s (entity %s)" % (e.get("seq"), e.get("method"), e.get("entity_set"), e.get("entity_id"))
            if crid in self.ignored_crids:
                continue
            if not crid:
                t.violation("journal-has-intent", self.section, attempt, where + " carries no client-request-id")
                continue
            if crid in self.journal_crids:
                first = self.journal_crids[crid]
                t.violation("no-duplicate-write", self.section, attempt,
                            where + " repeats client-request-id %s first journaled at seq %s (sent twice)" % (crid, first.get("seq")))
                continue
            self.journal_crids[crid] = e
        self.journal_seen = len(journal)
        for crid, e in self.journal_crids.items():
            if e.get("_matched"):
                continue
            s = self.steps.get(crid)
            if s is None:
                continue
            e["_matched"] = True
            if s["status"] in ("failed", "skipped"):
                t.violation("journal-matches-step", self.section, attempt,
                            "run %s step %s (%s %s) reads %s%s but the server committed it (journal seq %s, HTTP %s)" % (
                                s["_run"], s["name"], s["method"], s["url"], s["status"],
                                " (%s)" % s["error_message"][:200] if s.get("error_message") else "", e.get("seq"), e.get("status")))
            if s["method"].upper() != e.get("method"):
                t.violation("journal-has-intent", self.section, attempt,
                            "journal seq %s is a %s but step %s of run %s with its client-request-id is a %s" % (
                                e.get("seq"), e.get("method"), s["name"], s["_run"], s["method"]))
        unmatched = [e for c, e in self.journal_crids.items() if c not in self.steps]
        for e in unmatched:
            if e.get("_reported"):
                continue
            e["_reported"] = True
            t.violation("journal-has-intent", self.section, attempt,
                        "journal seq %s: %s %s entity %s, client-request-id %s — no intent row in any store" % (
                            e.get("seq"), e.get("method"), e.get("entity_set"), e.get("entity_id"), e.get("client_request_id")))
        # No run put more writes on the server than its manifest has write steps.
        per_run = {}
        for crid, e in self.journal_crids.items():
            s = self.steps.get(crid)
            if s is not None and s.get("_kind") == "batch":
                per_run.setdefault(s["_run"], []).append(e.get("seq"))
        for rid, seqs in per_run.items():
            run = self.run_by_id.get(rid, {})
            w = self.manifests.get(os.path.realpath(run.get("manifest_path") or ""), (None, None))[1]
            if w is not None and len(seqs) > w and rid not in self.over_reported:
                self.over_reported.add(rid)
                t.violation("no-duplicate-write", self.section, attempt,
                            "run %s put %d writes in the journal (seq %s); its manifest has %d write steps" % (rid, len(seqs), seqs[:12], w))
        for crid, s in self.steps.items():
            if s.get("_journal_checked"):
                continue
            if s["method"].upper() in WRITE_METHODS and s["status"] in COMMITTED:
                e = self.journal_crids.get(crid)
                if e is None:
                    t.violation("committed-has-journal", self.section, attempt,
                                "run %s step %s (%s %s) reads %s, HTTP %s, but the journal has no write with client-request-id %s" % (
                                    s["_run"], s["name"], s["method"], s["url"], s["status"], s.get("http_status"), crid))
                else:
                    want = e.get("body_sha256")
                    got = (s.get("request_digest") or "").replace("sha256:", "")
                    if want and got and want.replace("sha256:", "") != got:
                        t.violation("committed-has-journal", self.section, attempt,
                                    "run %s step %s: ledger request digest %s, the server received %s" % (s["_run"], s["name"], got, want))
                s["_journal_checked"] = True
        return t.violation_count - before

    def check_head(self, attempt, store, runs):
        """`refs/head` holds `sha256:<64 hex>\\n` naming a stored run record once a run finished."""
        finished = [self.runs[(store, r["id"])][0] for r in runs
                    if (store, r["id"]) in self.runs and self.runs[(store, r["id"])][0].get("record_digest")]
        if not finished:
            return
        head = os.path.join(store, "refs", "head")
        try:
            text = open(head, "rb").read()
        except OSError as e:
            if (store, "missing") not in self.head_reported:     # once per store, not after every attempt
                self.head_reported.add((store, "missing"))
                self.t.violation("head-file", self.section, attempt, "%s: %d finished runs but %s" % (store, len(finished), e))
            return
        m = re.fullmatch(rb"sha256:([0-9a-f]{64})\n", text)
        if not m:
            self.t.violation("head-file", self.section, attempt, "%s holds %r, not sha256:<64 hex>\\n" % (head, text[:80]))
            return
        digest = "sha256:" + m.group(1).decode()
        blob = os.path.join(store, "objects", "sha256", digest[7:9], digest[9:])
        if not os.path.exists(blob):
            self.t.violation("head-file", self.section, attempt, "%s names %s but that blob is not stored" % (head, digest))
        elif digest not in {r.get("record_digest") for r in finished}:
            # Documented (LedgerStore.finishRun): the file is written inside the finishing
            # transaction, so a SIGKILL between the file and the commit leaves it one record
            # ahead, naming the record of a run that then reads unfinished. Anything else is a lie.
            try:
                record = json.load(open(blob, "rb"))
                rid = record.get("run", {}).get("id")
            except (OSError, ValueError, AttributeError):
                rid = None
            run = self.run_by_id.get(rid) if rid else None
            if run is not None and not run.get("finished_at"):
                if (store, digest) not in self.head_reported:
                    self.head_reported.add((store, digest))
                    v = self.bcli(["batch", "verify", "--all"], store, ctx=attempt)
                    self.t.notes.append("%s: refs/head one record ahead after a kill (run %s killed while finishing); verify --all exit %d: %s" % (
                        self.section, rid, v.code, (v.out.strip().splitlines() or [""])[0][:200]))
            elif (store, digest) not in self.head_reported:
                self.head_reported.add((store, digest))
                self.t.violation("head-file", self.section, attempt, "%s names %s, the record of no finished run (record of run %s)" % (head, digest, rid))

    def check_run(self, attempt, run, steps):
        t = self.t
        rid, state, kind = run["id"], run.get("state"), run.get("kind")
        statuses = [s["status"] for s in steps]
        unknown = [s for s in steps if s["status"] == "unknown"]
        n = None
        if kind == "batch" and run.get("manifest_path"):
            n = self.manifests.get(os.path.realpath(run["manifest_path"]), (None,))[0]
        desc = "run %s (%s, %d step rows%s, statuses %s, finished_at %s)" % (
            rid, kind, len(steps), "" if n is None else " of %d" % n, summarise(statuses), run.get("finished_at"))
        seqs = [s["seq"] for s in steps]
        if len(seqs) != len(set(seqs)) or (n is not None and len(steps) > n):
            t.violation("no-duplicate-write", self.section, attempt, desc + ": more step rows than the manifest has steps")
        if state == "completed":
            # Steps a rollback later marked were committed by this run; partly undone, it keeps its state.
            # A rollback run may record a compensation it found already done (an interrupted
            # rollback's write landed) as skipped with nothing sent, and its GETs are checks
            # (`check_<name>`, docs/rollback.md) whose 404 is the evidence; a compensating write
            # that failed or is unknown never lets it read completed.
            if kind == "rollback":
                bad = [s for s in steps if s["method"].upper() in WRITE_METHODS and s["status"] not in COMMITTED | {"skipped"}]
                bad += [s for s in steps if s["status"] == "unknown"]
            elif kind == "reconcile":
                # A reconcile run's steps are probes (GETs): a 404 is evidence (a DELETE landed, a
                # record is gone) and reads failed; only a probe without an answer is not done.
                bad = [s for s in steps if s["status"] == "unknown"]
            else:
                bad = [s for s in steps if s["status"] not in COMMITTED]
            if bad or (n is not None and len(steps) != n):
                t.violation("no-false-completed", self.section, attempt, desc + " reads completed")
        if unknown and state != "in_doubt":
            t.violation("run-state", self.section, attempt,
                        desc + " reads %s; a run with an unknown step (%s) reads in_doubt" % (state, unknown[0]["name"]))
        if not run.get("finished_at") and not unknown:
            all_done = n is not None and len(steps) == n and all(s["status"] in ("committed", "replayed") for s in steps)
            ok = {"interrupted", "rolled_back"} | ({"completed"} if all_done else set())
            if state not in ok and state != "completed":   # a false completed is reported above
                t.violation("run-state", self.section, attempt,
                            desc + " reads %s; a dead unfinished run without unknown steps reads %s" % (state, "/".join(sorted(ok))))
        if run.get("stamped_state") == "cancelled" and state not in ("cancelled", "in_doubt", "rolled_back"):
            t.violation("run-state", self.section, attempt, desc + " was stamped cancelled (SIGINT) but reads %s" % state)
        if not run.get("finished_at") and not run.get("interrupted"):
            t.violation("run-state", self.section, attempt, desc + ": unfinished, no process holds its lock, but not marked interrupted")
        if state == "running":
            t.violation("run-state", self.section, attempt, desc + " reads running but no process is alive")
        if state == "failed" and any(s["status"] in COMMITTED for s in steps):
            t.violation("run-state", self.section, attempt, desc + " reads failed although a step committed")

    def fsck(self, attempt):
        """End-of-section checks of each store: fsck, and `list --state S` (derived in SQL) agreeing
        with the state each run reads."""
        for store in self.stores:
            if not os.path.exists(os.path.join(store, "ledger.sqlite3")):
                continue
            full = self.bcli(["batch", "list", "--format", "json", "--limit", "1000000"], store, ctx=attempt).json() or {"runs": []}
            by_state = {}
            for r in full["runs"]:
                by_state.setdefault(r["state"], set()).add(r["id"])
            for state, ids in sorted(by_state.items()):
                res = self.bcli(["batch", "list", "--state", state, "--format", "json", "--limit", "1000000"], store, ctx=attempt)
                got = {r["id"] for r in (res.json() or {"runs": []})["runs"]}
                if got != ids:
                    self.t.violation("run-state", self.section, attempt, "`list --state %s` gives %d runs, %d runs read %s (only in the filter: %s; missing from it: %s)" % (
                        state, len(got), len(ids), state, sorted(got - ids)[:3], sorted(ids - got)[:3]))
            res = self.bcli(["batch", "fsck"], store, ctx=attempt)
            if res.code != 0:
                self.t.violation("fsck-clean", self.section, attempt,
                                 "fsck %s exit %d: %s %s" % (store, res.code, res.out.strip()[-400:], res.err.strip()[-300:]))
                continue
            # Leftover temp files of killed writers are allowed, but fsck must name each one.
            on_disk = set()
            for d, _, files in os.walk(os.path.join(store, "objects")):
                on_disk.update(os.path.realpath(os.path.join(d, f)) for f in files if f.startswith(".tmp-"))
            tmp = os.path.join(store, "tmp")
            if os.path.isdir(tmp):
                on_disk.update(os.path.realpath(os.path.join(tmp, f)) for f in os.listdir(tmp))
            if on_disk:
                doc = self.bcli(["batch", "fsck", "--format", "json"], store, ctx=attempt).json() or {}
                named = {os.path.realpath(f.get("path", "")) for f in doc.get("findings", []) if "temp" in f.get("kind", "")}
                missing = sorted(on_disk - named)
                if missing:
                    self.t.violation("fsck-clean", self.section, attempt, "fsck exit 0 but does not report %d leftover temp file(s): %s" % (
                        len(missing), missing[:3]))

    def close(self):
        self.sbx.stop()


def summarise(statuses):
    counts = {}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    return ",".join("%s=%d" % kv for kv in sorted(counts.items())) or "none"


# --------------------------------------------------------------------------------------------

class Torture:
    def __init__(self, opts):
        self.opts = opts
        self.bcli = opts.bcli
        self.seed = opts.seed
        self.root = tempfile.mkdtemp(prefix="bcli-torture.")
        self.home = os.path.join(self.root, "home")
        os.makedirs(self.home)
        self.procs = set()
        self.violations = []
        self.violation_count = 0
        self.table = []           # (section, tried, survived, failures, note)
        self.kills = {"run": 0, "rollback": 0}
        self.start = time.monotonic()
        self.deadline = self.start + opts.budget if opts.budget else None

    # ---- processes -------------------------------------------------------------------------

    def spawn_raw(self, args, **kw):
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, **kw)
        self.procs.add(p)
        return p

    def forget(self, p):
        self.procs.discard(p)

    def env(self, store, url=None):
        e = {k: v for k, v in os.environ.items() if not k.startswith("BCLI_") and k not in PROXY_VARS}
        e.update({"HOME": self.home, "NO_COLOR": "1", "BCLI_STORE": store,
                  "XDG_CONFIG_HOME": os.path.join(self.root, "config"),
                  "XDG_CACHE_HOME": os.path.join(self.root, "cache"),
                  "XDG_DATA_HOME": os.path.join(self.root, "data")})
        if url:
            e["BCLI_SANDBOX_URL"] = url
        return e

    def run(self, args, env, ctx="", timeout=60, allowed=None, section=None):
        """Runs bcli to the end. Any crash signal or stack trace is a violation; `allowed` (a set of
        exit codes) makes any other code one too."""
        t0 = time.monotonic()
        p = self.spawn_raw([self.bcli] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            self.forget(p)
            self.violation("hang", section or "-", ctx, "bcli %s did not finish within %ds" % (" ".join(args[:4]), timeout))
            return Result(-9, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), time.monotonic() - t0)
        self.forget(p)
        res = Result(p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), time.monotonic() - t0)
        self.judge(res, args, section or "-", ctx, allowed)
        return res

    def judge(self, res, args, section, ctx, allowed=None):
        what = "bcli " + " ".join(a if len(a) < 60 else a[:57] + "..." for a in args[:5])
        if res.code < 0 or (res.code >= 128 and res.code != 130):
            self.violation("crash", section, ctx, "%s died with %s; stderr: %s" % (
                what, "signal %d" % -res.code if res.code < 0 else "exit %d" % res.code, res.err.strip()[-400:]))
        elif CRASH_TEXT.search(res.err):
            self.violation("crash", section, ctx, "%s printed a stack trace (exit %d): %s" % (what, res.code, res.err.strip()[-400:]))
        elif allowed is not None and res.code not in allowed:
            self.violation("exit-code", section, ctx, "%s exit %d, expected %s; stderr: %s" % (
                what, res.code, "/".join(map(str, sorted(allowed))), res.err.strip()[-300:]))

    def spawn(self, args, env):
        return self.spawn_raw([self.bcli] + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def lines_then_kill(self, p, lines, extra_ms):
        """Waits for `lines` stdout lines (or the end), then `extra_ms` more, then SIGKILL.
        Returns True when the process was still alive when killed."""
        fd = p.stdout.fileno()
        seen = 0
        deadline = time.monotonic() + 60
        while seen < lines and time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.5)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                seen += chunk.count(b"\n")
            elif p.poll() is not None:
                break
        if extra_ms > 0:
            time.sleep(extra_ms / 1000.0)   # the random kill moment inside the next request
        return self.kill(p)

    def lines_then_signal(self, p, lines, extra_ms, sig):
        """Like lines_then_kill with another signal; waits for the process and returns its exit code."""
        fd = p.stdout.fileno()
        seen = 0
        deadline = time.monotonic() + 60
        while seen < lines and time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.5)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                seen += chunk.count(b"\n")
            elif p.poll() is not None:
                break
        if extra_ms > 0:
            time.sleep(extra_ms / 1000.0)
        if p.poll() is None:
            p.send_signal(sig)
        try:
            while p.stdout.read(65536):
                pass
            code = p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            code = p.wait()
        p.stdout.close()
        self.forget(p)
        return code

    def kill(self, p):
        alive = p.poll() is None
        if alive:
            p.send_signal(signal.SIGKILL)
        p.wait()
        for f in (p.stdout, p.stderr):
            if f:
                f.close()
        self.forget(p)
        return alive

    def reap_all(self):
        for p in list(self.procs):
            if p.poll() is None:
                p.kill()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self.procs.clear()

    # ---- bookkeeping -------------------------------------------------------------------------

    def violation(self, invariant, section, attempt, evidence):
        self.violation_count += 1
        evidence = re.sub(r"\s*\n\s*", " | ", evidence.strip())
        self.violations.append((invariant, section, attempt, evidence))
        if self.opts.verbose:
            log("  VIOLATION %s [%s %s]: %s" % (invariant, section, attempt, evidence))

    def time_left(self):
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def over_budget(self, share_end):
        """True once the section's share of the budget (an absolute monotonic time) is used up."""
        return share_end is not None and time.monotonic() >= share_end

    def rng(self, section):
        return random.Random("%d:%s" % (self.seed, section))


# --------------------------------------------------------------------------------------------
# Manifests

def kill_manifest(rng, tag, failing=False):
    """A mixed manifest: POSTs, PATCHes and a DELETE chained by references, GETs, and (when
    `failing`) a duplicate key that BC refuses. Returns (text, steps, writes)."""
    steps = []
    for i in range(1, 5):
        steps.append('  - {name: c%d, action: post, endpoint: customers, data: {displayName: "T %s c%d", city: Oslo}}' % (i, tag, i))
        if i >= 2:
            steps.append('  - {name: p%d, action: patch, endpoint: customers, id: "${{ steps.c%d.id }}", data: {email: "c%d-%s@x.example"}}' % (i, i - 1, i, tag))
    steps.append('  - {name: g1, action: get, endpoint: customers, id: "${{ steps.c1.id }}"}')
    # Every page of this run's customers (c1..c4: two pages of two, the server's page size).
    steps.append('  - {name: ga, action: get, endpoint: customers, all: true, filter: "startswith(displayName,\'T %s \')"}' % tag)
    steps.append('  - {name: d4, action: delete, endpoint: customers, id: "${{ steps.c4.id }}"}')
    steps.append('  - {name: v1, action: post, endpoint: vendors, data: {number: "TV%s", displayName: "Vendor %s"}}' % (tag, tag))
    if failing:
        steps.append('  - {name: v2, action: post, endpoint: vendors, data: {number: "TV%s", displayName: "Duplicate %s"}}' % (tag, tag))
    steps.append('  - {name: p1b, action: patch, endpoint: customers, id: "${{ steps.c1.id }}", data: {city: Bergen}}')
    text = "name: torture-%s\nsteps:\n%s\n" % (tag, "\n".join(steps))
    writes = sum(1 for s in steps if "action: get" not in s)
    return text, len(steps), writes


# --------------------------------------------------------------------------------------------
# Sections

def section_self_test(t):
    """The checker must be able to fail: known violations are injected into a clean world and each
    must be reported. The injected violations are then set aside; a miss is a violation itself."""
    name = "self-test"
    rng = t.rng(name)
    w = World(t, name)
    store = w.store("store")
    tried = survived = 0
    try:
        text, n, writes = kill_manifest(rng, "s0")
        path = w.manifest("s0", text, n, writes)
        res = w.bcli(["batch", "run", "-p", "sandbox", path, "--format", "json"], store, ctx="clean run", allowed={0}, section=name)
        w.check("clean run")
        rid = (res.json() or {}).get("run_id")
        steps = w.runs.get((store, rid), ({}, []))[1]
        posts = [s for s in steps if s["method"] == "POST" and s["status"] == "committed"]
        mark = len(t.violations)

        def expect(invariant, what, inject):
            nonlocal tried, survived
            tried += 1
            start = len(t.violations)
            inject()
            w.check("self-test: " + what)
            got = [v for v in t.violations[start:] if v[0] == invariant]
            if got:
                survived += 1
            else:
                t.missed.append("the checker did not report %s for %s" % (invariant, what))

        # A write re-sent with the client-request-id of a committed step.
        expect("no-duplicate-write", "a write sent twice", lambda: w.sbx.api(
            "POST", "customers", {"displayName": "dup"}, {"client-request-id": posts[0]["client_request_id"]}))
        # A write the ledger never heard of.
        expect("journal-has-intent", "a write with no intent row", lambda: w.sbx.api(
            "POST", "customers", {"displayName": "ghost"}, {"client-request-id": "canary-" + os.urandom(4).hex()}))

        def forget_crid():
            db = sqlite3.connect(os.path.join(store, "ledger.sqlite3"))
            db.execute("UPDATE step SET client_request_id = ? WHERE client_request_id = ?",
                       ("canary-" + os.urandom(4).hex(), posts[1]["client_request_id"]))
            db.commit()
            db.close()
            w.final.clear()
            w.steps.clear()
        expect("committed-has-journal", "a committed step whose write is not in the journal", forget_crid)

        def one_more_step():
            # The manifest the completed run ran now has one step more than the run's rows.
            w.manifests[os.path.realpath(path)] = (n + 1, writes)
            w.final.clear()
        expect("no-false-completed", "a completed run with fewer rows than its manifest has steps", one_more_step)
        w.manifests[os.path.realpath(path)] = (n, writes)

        def corrupt_blob():
            digest = (posts[2].get("request_digest") or "")[7:]
            p = os.path.join(store, "objects", "sha256", digest[:2], digest[2:])
            if os.path.exists(p):
                os.chmod(p, 0o644)
                with open(p, "r+b") as f:
                    f.write(b"X")
            else:
                # A small blob: its bytes are in the ledger (object_data), not in a file.
                db = sqlite3.connect(os.path.join(store, "ledger.sqlite3"))
                (data,) = db.execute("SELECT data FROM object_data WHERE digest = ?", (digest,)).fetchone()
                db.execute("UPDATE object_data SET data = ? WHERE digest = ?", (b"X" + bytes(data)[1:], digest))
                db.commit()
                db.close()
            w.fsck("self-test")
        expect("fsck-clean", "a corrupt blob", corrupt_blob)
        # Set the injected violations aside: they were wanted.
        del t.violations[mark:]
        t.violation_count = len(t.violations)
        for m in t.missed:
            t.violation("harness", name, "-", m)
    finally:
        w.close()
    t.record(name, tried, survived, "injected violations detected")


def section_kill_run(t, name, target, hold):
    """Runs killed at random moments: with latency (kill after k step lines plus a random part of
    a request), or (hold) at an exact point: the nth request is held by the sandbox, bcli is
    SIGKILLed while it waits, then the request is released and lands with nobody to answer."""
    rng = t.rng(name)
    w = World(t, name, latency="3-25@%d" % (t.seed % 100000))
    store = w.store("store")
    tried = survived = 0
    kills = 0
    sigint_check = False
    share_end = t.section_end(name)
    try:
        i = 0
        while kills < target and i < target * 3:
            i += 1
            if t.over_budget(share_end):
                break
            tag = "%s%d" % ("h" if hold else "k", i)
            text, n, writes = kill_manifest(rng, tag, failing=rng.random() < 0.25)
            path = w.manifest(tag, text, n, writes)
            args = ["batch", "run", "-p", "sandbox", path] + (["--durability", "full"] if rng.random() < 0.3 else [])
            # Half the runs keep several requests in flight (--concurrency): a kill then lands
            # with up to five steps between intent and outcome.
            workers = rng.choice([1, 1, 2, 3, 5, 5])
            if workers > 1:
                args += ["--concurrency", str(workers)]
            # A quarter send their writes as OData $batch requests: a kill then lands between the
            # intents of a whole batch and their outcomes.
            batch = rng.choice([2, 4, 8]) if rng.random() < 0.25 else 1
            if batch > 1:
                args += ["--batch-size", str(batch)]
            attempt = "attempt %d%s%s" % (i, "" if workers == 1 else " (concurrency %d)" % workers,
                                          "" if batch == 1 else " (batch-size %d)" % batch)
            attempt_start = t.violation_count
            if hold:
                # n steps send about n + pre-image GETs requests; hold one of them.
                kind = rng.choice(["write", "any", "any", "PATCH", "DELETE", "GET"])
                k = rng.randint(1, 6 if kind in ("PATCH", "DELETE", "GET") else n + 4)
                spec = "hold:nth=%d" % k + ("" if kind == "any" else ",method=%s" % kind)
                if kind in ("DELETE",):
                    spec = "hold:nth=1,method=DELETE"
                w.sbx.set_faults([spec])
                p = w.spawn(args, store)
                held = w.sbx.await_held(p)
                killed = t.kill(p)
                attempt += " (%s%s)" % (spec, "" if held else ", run ended first")
            elif rng.random() < 0.15:
                # Ctrl-C: the in-flight step is finished, the run stamped cancelled, exit 130.
                w.sbx.set_faults([])
                known = {rid for (sto, rid) in w.runs if sto == store}
                p = w.spawn(args, store)
                lines = rng.randint(0, n - 1)
                code = t.lines_then_signal(p, lines, rng.randint(0, 30), signal.SIGINT)
                attempt += " (SIGINT after %d lines, exit %s)" % (lines, code)
                killed = False
                # -2: SIGINT arrived before bcli installed its handler (start-up, before any run
                # row); the run-state rules below still apply to whatever it left.
                if code not in (0, 1, 130, -signal.SIGINT):
                    t.violation("exit-code", name, attempt, "an interrupted run exit %s, expected 130 (or 0/1 when it had finished)" % code)
                elif code == 130:
                    sigint_check = True
            else:
                w.sbx.set_faults([])
                p = w.spawn(args, store)
                lines = rng.randint(0, n)
                extra = rng.randint(0, 30)
                killed = t.lines_then_kill(p, lines, extra)
                attempt += " (kill after %d lines + %d ms)" % (lines, extra)
            tried += 1
            if killed:
                kills += 1
            w.check(attempt)
            if sigint_check:
                sigint_check = False
                mine = [run for (sto, rid), (run, _) in w.runs.items() if sto == store and rid not in known]
                newest = max(mine, key=lambda r: r["started_at"]) if mine else {}
                if not mine:
                    t.violation("run-state", name, attempt, "exit 130 but no run was recorded")
                elif newest.get("stamped_state") != "cancelled" or newest.get("state") not in ("cancelled", "in_doubt"):
                    t.violation("run-state", name, attempt, "run %s exit 130 but is stamped %s and reads %s" % (
                        newest.get("id"), newest.get("stamped_state"), newest.get("state")))
            if tried % 10 == 0:
                w.fsck(attempt)
            survived += t.violation_count == attempt_start
        before = t.violation_count
        w.fsck(name + " end")
        if t.violation_count > before and survived:
            survived -= 1
    finally:
        w.close()
    t.kills["run"] += kills
    t.record(name, tried, survived, "%d SIGKILLs" % kills)


def snapshot_customer(w, rid):
    status, body = w.sbx.api("GET", "customers(%s)" % rid)
    return status, body


def section_kill_rollback(t, target):
    """A run (not killed) creates records and patches others; its rollback is SIGKILLed 1-3 times
    at random moments or held points, then re-run to the end. Then: no record DELETEd twice, the
    created records are gone, the patched ones carry their pre-run values."""
    name = "kill-rollback"
    rng = t.rng(name)
    w = World(t, name, latency="2-12@%d" % (t.seed % 100000))
    store = w.store("store")
    tried = survived = kills = 0
    double_deletes = set()
    share_end = t.section_end(name)
    try:
        # Base records that every round patches (and rollback must restore).
        base_text = "name: base\nsteps:\n" + "\n".join(
            '  - {name: b%d, action: post, endpoint: customers, data: {displayName: "Base %d", email: "base%d@x.example", city: Paris}}' % (j, j, j)
            for j in range(3)) + "\n"
        base = w.manifest("base", base_text, 3, 3)
        res = w.bcli(["batch", "run", "-p", "sandbox", base, "--format", "json"], store, ctx="base", allowed={0}, section=name)
        base_ids = []
        for s in (res.json() or {}).get("steps", []):
            if s.get("record_id"):
                base_ids.append(s["record_id"])
        if len(base_ids) != 3:
            ids = w.bcli(["batch", "list", "--format", "json"], store).json()["runs"]
            st = w.bcli(["batch", "state", ids[0]["id"], "--format", "json"], store).json()
            base_ids = [s["record_id"] for s in st["steps"]]
        w.check("base")
        r = 0
        while kills < target and r < target * 2:
            r += 1
            if t.over_budget(share_end):
                break
            tag = "r%d" % r
            before = t.violation_count
            patched = rng.sample(base_ids, 2)
            pre = {}
            for b in patched:
                status, body = snapshot_customer(w, b)
                pre[b] = {k: body.get(k) for k in ("displayName", "email", "city")}
            steps = []
            for j in range(1, 4):
                steps.append('  - {name: n%d, action: post, endpoint: customers, data: {displayName: "New %s %d"}}' % (j, tag, j))
            steps.append('  - {name: n1a, action: patch, endpoint: customers, id: "${{ steps.n1.id }}", data: {email: "n1-%s@x.example"}}' % tag)
            steps.append('  - {name: n1b, action: patch, endpoint: customers, id: "${{ steps.n1.id }}", data: {city: Lima}}')
            for j, b in enumerate(patched):
                steps.append('  - {name: bp%d, action: patch, endpoint: customers, id: "%s", data: {displayName: "Changed %s", email: "chg-%s@x.example"}}' % (j, b, tag, tag))
                steps.append('  - {name: bq%d, action: patch, endpoint: customers, id: "%s", data: {city: "Town %s"}}' % (j, b, tag))
            text = "name: target-%s\nsteps:\n%s\n" % (tag, "\n".join(steps))
            path = w.manifest(tag, text, len(steps), len(steps))
            res = w.bcli(["batch", "run", "-p", "sandbox", path, "--format", "json"], store, ctx=tag, allowed={0}, section=name)
            doc = res.json() or {}
            run_id = doc.get("run_id")
            if not run_id:
                runs = w.bcli(["batch", "list", "--format", "json", "--limit", "1"], store).json()["runs"]
                run_id = runs[0]["id"]
            st = w.bcli(["batch", "state", run_id, "--format", "json"], store).json()
            created = [s["record_id"] for s in st["steps"] if s["method"] == "POST" and s["status"] == "committed" and s.get("record_id")]
            w.check(tag)
            attempt = "%s run %s" % (tag, run_id[:12])
            history = []
            tried += 1
            for k in range(rng.randint(1, 3)):
                if rng.random() < 0.5:
                    spec = rng.choice(["hold:nth=%d,method=write" % rng.randint(1, 7),
                                       "hold:nth=%d" % rng.randint(1, 9),
                                       "hold:nth=%d,method=DELETE" % rng.randint(1, 3)])
                    w.sbx.set_faults([spec])
                    p = w.spawn(["batch", "rollback", run_id, "--yes"], store)
                    held = w.sbx.await_held(p)
                    alive = t.kill(p)
                    how = spec + ("" if held else " (ended first)")
                else:
                    w.sbx.set_faults([])
                    p = w.spawn(["batch", "rollback", run_id, "--yes"], store)
                    lines, extra = rng.randint(0, 6), rng.randint(0, 20)
                    alive = t.lines_then_kill(p, lines, extra)
                    how = "after %d lines + %d ms" % (lines, extra)
                kills += alive
                w.check("%s kill %d (%s)" % (attempt, k + 1, how), dirty=[(store, run_id)])
                history.append(how)
            attempt += " after rollbacks killed " + "; ".join(history)
            w.sbx.set_faults([])
            fin = w.bcli(["batch", "rollback", run_id, "--yes"], store, ctx=attempt, section=name)
            if fin.code not in (0, 8):
                failed_lines = [l for l in fin.out.splitlines() if l.startswith("✗")] or fin.out.strip().splitlines()[-2:]
                t.violation("rollback-restored", name, attempt, "the final rollback exit %d: %s | %s" % (
                    fin.code, " | ".join(l[:260] for l in failed_lines[:3]), fin.err.strip()[-200:]))
            w.check(attempt + " final", dirty=[(store, run_id)])
            orig, osteps = w.runs.get((store, run_id), ({}, []))
            if orig.get("state") != "rolled_back":
                t.violation("rollback-restored", name, attempt, "after the final rollback the run reads %s (%s)" % (
                    orig.get("state"), summarise([s["status"] for s in osteps])))
            for rid in created:
                status, body = snapshot_customer(w, rid)
                if status != 404:
                    t.violation("rollback-restored", name, attempt, "created record %s still exists (GET %d)" % (rid, status))
            for b, fields in pre.items():
                status, body = snapshot_customer(w, b)
                now = {k: (body or {}).get(k) for k in fields}
                if now != fields:
                    t.violation("rollback-restored", name, attempt, "patched record %s is %s, before the run it was %s" % (b, now, fields))
            # No record DELETEd twice: the journal (committed) and the ledger (a DELETE answered 404).
            deletes = {}
            for e in w.sbx.journal():
                if e.get("method") == "DELETE":
                    deletes.setdefault(e.get("entity_id"), []).append(e.get("seq"))
            for eid, seqs in deletes.items():
                if len(seqs) > 1 and eid not in double_deletes:
                    double_deletes.add(eid)
                    t.violation("rollback-no-double-delete", name, attempt, "record %s DELETEd %d times (journal seq %s)" % (eid, len(seqs), seqs))
            for (sto, rid2), (run, steps) in w.runs.items():
                if run.get("kind") != "rollback" or run.get("parent") != run_id:
                    continue
                for s in steps:
                    if s["method"] == "DELETE" and s.get("http_status") == 404:
                        t.violation("rollback-no-double-delete", name, attempt,
                                    "rollback run %s step %s sent a DELETE the server answered 404 (the record was already deleted): %s" % (rid2, s["name"], s["url"]))
            survived += t.violation_count == before
        before = t.violation_count
        w.fsck(name + " end")
        if t.violation_count > before and survived:
            survived -= 1
    finally:
        w.close()
    t.kills["rollback"] += kills
    t.record(name, tried, survived, "%d SIGKILLs" % kills)


def section_faults(t, rounds):
    """drop (commit then no answer), throttle (429) and unavailable (503) while runs go to the end:
    no write re-sent, a dropped write reads unknown and its run in_doubt."""
    name = "faults"
    rng = t.rng(name)
    w = World(t, name, latency=None)
    store = w.store("store")
    tried = survived = 0
    share_end = t.section_end(name)
    try:
        for i in range(1, rounds + 1):
            if t.over_budget(share_end):
                break
            tag = "f%d" % i
            text, n, writes = kill_manifest(rng, tag, failing=False)
            path = w.manifest(tag, text, n, writes)
            seed = rng.randint(1, 10 ** 6)
            choice = rng.choice(["drop", "throttle", "unavailable", "mixed", "drop-rate", "throttle-every", "unavailable-every"])
            specs = {
                "drop": ["drop:nth=%d,method=write" % rng.randint(1, writes)],
                "drop-rate": ["drop:rate=0.25,seed=%d,method=write" % seed],
                "throttle": ["throttle:rate=0.3,seed=%d,retry-after=0" % seed],
                "unavailable": ["unavailable:rate=0.3,seed=%d" % seed],
                # Every other request refused: each retry succeeds, so the run must complete.
                "throttle-every": ["throttle:every=2,retry-after=0"],
                "unavailable-every": ["unavailable:every=2,retry-after=0"],
                "mixed": ["throttle:rate=0.15,seed=%d,retry-after=0" % seed, "unavailable:rate=0.15,seed=%d" % (seed + 1),
                          "drop:rate=0.1,seed=%d,method=write" % (seed + 2)],
            }[choice]
            w.sbx.set_faults(specs)
            attempt = "%s %s" % (tag, ",".join(specs))
            before = t.violation_count
            j0 = len(w.sbx.journal())
            res = w.bcli(["batch", "run", "-p", "sandbox", path, "--format", "json"], store, ctx=attempt,
                         allowed={0, 1}, section=name, timeout=120)
            tried += 1
            w.sbx.set_faults([])
            w.check(attempt)
            f = w.sbx.faults()
            if choice.endswith("-every"):
                # 429 and 503 prove nothing was processed: writes are retried, and each lands once.
                doc = res.json() or {}
                rid = doc.get("run_id")
                run, steps = w.runs.get((store, rid), ({}, [])) if rid else ({}, [])
                if res.code != 0 or run.get("state") != "completed":
                    t.violation("retry-rule", name, attempt, "every other request answered %s: exit %d, run %s reads %s (%s); writes refused with 429/503 are retried" % (
                        "429" if "throttle" in choice else "503", res.code, rid, run.get("state"), summarise([s["status"] for s in steps])))
            if choice == "drop":
                doc = res.json() or {}
                rid = doc.get("run_id")
                if res.code != 1:
                    t.violation("run-state", name, attempt, "a run with a dropped write exit %d, expected 1" % res.code)
                if rid:
                    run, steps = w.runs.get((store, rid), ({}, []))
                    if not any(s["status"] == "unknown" for s in steps):
                        t.violation("run-state", name, attempt, "run %s: the dropped write is not unknown (%s)" % (rid, summarise([s["status"] for s in steps])))
            survived += t.violation_count == before
        w.fsck(name + " end")
    finally:
        w.close()
    t.record(name, tried, survived, "")


def section_concurrent(t, rounds):
    """4 runs at once on one store (sometimes one of them SIGKILLed), then every invariant and
    `verify --all`."""
    name = "concurrent"
    rng = t.rng(name)
    w = World(t, name, latency="1-8@%d" % (t.seed % 1000))
    store = w.store("store")
    tried = survived = 0
    share_end = t.section_end(name)
    try:
        for i in range(1, rounds + 1):
            if t.over_budget(share_end):
                break
            procs = []
            victim = rng.randint(0, 3) if rng.random() < 0.5 else None
            for j in range(4):
                tag = "c%d_%d" % (i, j)
                text, n, writes = kill_manifest(rng, tag)
                path = w.manifest(tag, text, n, writes)
                procs.append(t.spawn_raw([t.bcli, "batch", "run", "-p", "sandbox", path], env=w.env(store),
                                         stdout=subprocess.PIPE if j == victim else subprocess.DEVNULL, stderr=subprocess.PIPE))
            attempt = "round %d%s" % (i, "" if victim is None else " (run %d killed)" % victim)
            before = t.violation_count
            if victim is not None:
                t.lines_then_kill(procs[victim], rng.randint(1, 6), rng.randint(0, 10))
            for j, p in enumerate(procs):
                if j == victim:
                    continue
                _, err = p.communicate(timeout=120)
                t.forget(p)
                t.judge(Result(p.returncode, "", err.decode("utf-8", "replace"), 0), ["batch", "run"], name, attempt, {0})
            tried += 1
            w.check(attempt)
            # With a run SIGKILLed while finishing, refs/head may be one record ahead and verify
            # --all says so (exit 1, documented); with no kill it must verify clean.
            w.bcli(["batch", "verify", "--all"], store, ctx=attempt, allowed={0} if victim is None else {0, 1}, section=name)
            survived += t.violation_count == before
        w.fsck(name + " end")
    finally:
        w.close()
    t.record(name, tried, survived, "4 processes per round")


def section_new_store_race(t, rounds):
    """4 processes create the same new store at once: all succeed, one schema, fsck clean."""
    name = "new-store-race"
    w = World(t, name)
    tried = survived = 0
    try:
        text = "name: race\nsteps:\n  - {name: a, action: post, endpoint: customers, data: {displayName: Race}}\n  - {name: b, action: get, endpoint: customers}\n"
        path = w.manifest("race", text, 2, 1)
        for i in range(1, rounds + 1):
            store = w.store("store%d" % i)
            attempt = "round %d" % i
            before = t.violation_count
            procs = [t.spawn_raw([t.bcli, "batch", "run", "-p", "sandbox", path], env=w.env(store),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _ in range(4)]
            for p in procs:
                _, err = p.communicate(timeout=120)
                t.forget(p)
                t.judge(Result(p.returncode, "", err.decode("utf-8", "replace"), 0), ["batch", "run"], name, attempt, {0})
            tried += 1
            w.check(attempt)
            runs = w.bcli(["batch", "list", "--format", "json"], store).json() or {"runs": []}
            if len(runs["runs"]) != 4:
                t.violation("new-store-race", name, attempt, "%d runs recorded, 4 ran" % len(runs["runs"]))
            w.bcli(["batch", "verify", "--all"], store, ctx=attempt, allowed={0}, section=name)
            w.fsck(attempt)
            survived += t.violation_count == before
    finally:
        w.close()
    t.record(name, tried, survived, "4 processes per new store")


# --------------------------------------------------------------------------------------------
# Recovery: reconcile + resume, exactly once under kills (issue 11)

RECOVER_CITIES = ["Oslo", "Bergen", "Trondheim", "Lyon", "Porto", "Gent"]
RECOVER_DONE = {"committed", "replayed", "reconciled_applied"}


def recover_plan(rng):
    """The shape of a 40-step recovery manifest, drawn once per round and rendered for two tags
    (the round's and its reference run's): 14 customer POSTs, 18 PATCHes by reference (a unique
    email each), 3 vendor POSTs with `number`, 2 GETs, 3 DELETEs by reference at the end (of
    customers no PATCH touches). Every write has a unique body or a unique path."""
    ncust, nvend, npatch, nget = 14, 3, 18, 2
    deleted = [12, 13, 14]
    plan, created, c, v, p, g = [], [], 0, 0, 0, 0
    while c < ncust or v < nvend or p < npatch or g < nget:
        choices = []
        if c < ncust:
            choices += ["c"] * 3
        if v < nvend:
            choices += ["v"]
        patchable = [i for i in created if i not in deleted]
        if p < npatch and patchable:
            choices += ["p"] * 3
        if g < nget and created:
            choices += ["g"]
        if not choices:      # only patches left and nothing patchable yet cannot happen (c1 first)
            break
        kind = rng.choice(choices)
        if kind == "c":
            c += 1
            created.append(c)
            plan.append(("c", c, rng.choice(RECOVER_CITIES)))
        elif kind == "v":
            v += 1
            plan.append(("v", v, None))
        elif kind == "p":
            p += 1
            plan.append(("p", p, rng.choice(patchable)))
        else:
            g += 1
            plan.append(("g", g, rng.choice(created)))
    for k, i in enumerate(deleted, 1):
        plan.append(("d", k, i))
    return plan


def recover_manifest(plan, tag):
    """Returns (text, steps, writes, names by seq)."""
    steps, names = [], []
    for kind, k, arg in plan:
        if kind == "c":
            names.append("c%d" % k)
            steps.append('  - {name: c%d, action: post, endpoint: customers, data: {displayName: "X %s c%d", city: %s}}' % (k, tag, k, arg))
        elif kind == "v":
            names.append("v%d" % k)
            steps.append('  - {name: v%d, action: post, endpoint: vendors, data: {number: "V%s-%d", displayName: "XV %s v%d"}}' % (k, tag, k, tag, k))
        elif kind == "p":
            names.append("p%d" % k)
            steps.append('  - {name: p%d, action: patch, endpoint: customers, id: "${{ steps.c%d.id }}", data: {email: "p%d-%s@x.example"}}' % (k, arg, k, tag))
        elif kind == "g":
            names.append("g%d" % k)
            steps.append('  - {name: g%d, action: get, endpoint: customers, id: "${{ steps.c%d.id }}"}' % (k, arg))
        else:
            names.append("d%d" % k)
            steps.append('  - {name: d%d, action: delete, endpoint: customers, id: "${{ steps.c%d.id }}"}' % (k, arg))
    text = "name: recover-%s\nsteps:\n%s\n" % (tag, "\n".join(steps))
    writes = sum(1 for kind, _, _ in plan if kind != "g")
    return text, len(steps), writes, names


def recover_records(w, tag):
    """The tag's customers and vendors on the server as a set of (set, displayName, city, email,
    number) with the tag replaced by TAG (ids and timestamps aside); every page is read."""
    found = set()
    for es, prefix in (("customers", "X %s " % tag), ("vendors", "XV %s " % tag)):
        path = "%s?$filter=%s" % (es, urllib.parse.quote("startswith(displayName,'%s')" % prefix))
        status, body = w.sbx.api("GET", path)
        pages = 0
        while True:
            if status != 200 or not isinstance(body, dict):
                raise RuntimeError("GET %s: %s %r" % (path, status, body))
            for r in body.get("value", []):
                # A customer's number is the server's (a number series); a vendor's is the manifest's.
                row = tuple((r.get(f) or "").replace(tag, "TAG") for f in ("displayName", "city", "email"))
                row += ((r.get("number") or "").replace(tag, "TAG") if es == "vendors" else "",)
                found.add((es,) + row)
            nxt = body.get("@odata.nextLink")
            pages += 1
            if not nxt or pages > 200:
                break
            rel = nxt[len(w.sbx.url):] if nxt.startswith(w.sbx.url) else nxt
            hdrs = {"Authorization": "Bearer " + w.sbx.token}
            status, raw = w.sbx.http("GET", rel, headers=hdrs)
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
    return found


def recover_family(w, store, rid, attempt):
    """The original run's state JSON, and the state JSON of each of its resume runs (in order)."""
    st = w.bcli(["batch", "state", rid, "--format", "json"], store, ctx=attempt).json()
    if st is None:
        return None, []
    resumes = []
    for ch in st.get("children", []):
        if ch.get("kind") == "resume":
            doc = w.bcli(["batch", "state", ch["id"], "--format", "json"], store, ctx=attempt).json()
            if doc is not None:
                resumes.append(doc)
    resumes.sort(key=lambda d: d["run"].get("started_at") or "")
    return st, resumes


def section_recover(t, quick):
    """Runs killed at random moments (or held and killed at the nth write, or left alone), then
    `batch reconcile` and `batch resume` (each killed at random sometimes) until the run's family
    is done; then each manifest write must be in the sandbox's journal exactly once and the tag's
    records must equal those of an uninterrupted reference run of the same manifest."""
    name = "recover"
    rng = t.rng(name)
    w = World(t, name, latency="2-12@%d" % (t.seed % 100000))
    store = w.store("store")
    ref_store = w.store("reference")
    tried = survived = 0
    kills = {"run": 0, "reconcile": 0, "resume": 0}
    decisions = {"applied": 0, "not_applied": 0, "undecidable": 0}
    resume_runs = 0
    stuck = 0
    share_end = t.section_end(name)
    started = time.monotonic()
    # Quick: until 32 kills (about 60 s), never past 75 s; full: 300 kills.
    min_kills, max_rounds, max_secs = (32, 40, 75) if quick else (300, 400, None)
    try:
        i = 0
        while i < max_rounds:
            total_kills = sum(kills.values())
            if t.over_budget(share_end) or (max_secs and time.monotonic() - started > max_secs):
                break
            if total_kills >= min_kills and i >= 6:
                break
            i += 1
            attempt = "round %d" % i
            attempt_start = t.violation_count
            plan = recover_plan(rng)
            tag, ref_tag = "q%d" % i, "f%d" % i
            text, n, writes, names = recover_manifest(plan, tag)
            path = w.manifest(tag, text, n, writes)
            ref_text, _, _, _ = recover_manifest(plan, ref_tag)
            ref_path = w.manifest(ref_tag, ref_text, n, writes)
            # The reference: the same manifest, uninterrupted, no latency, its own store and tag.
            w.sbx.set_faults([], latency=None)
            ref = w.bcli(["batch", "run", "-p", "sandbox", ref_path, "--format", "json"], ref_store, ctx=attempt + " reference", allowed={0})
            # The interrupted run.
            known = {r["id"] for r in (w.bcli(["batch", "list", "--format", "json", "--limit", "1000000"], store, ctx=attempt).json() or {}).get("runs", [])}
            args = ["batch", "run", "-p", "sandbox", path]
            mode = rng.random()
            if mode < 0.35:
                k = rng.randint(1, writes)
                spec = "hold:nth=%d,method=write" % k
                w.sbx.set_faults([spec])
                p = w.spawn(args, store)
                held = w.sbx.await_held(p)
                killed = t.kill(p)
                attempt += " (run: %s%s)" % (spec, "" if held else ", ended first")
            elif mode < 0.47:
                # No kill: the nth write gets no answer; `lose` never performs it (reconcile must
                # find it not applied), `drop` performs it (applied). The run stops at the unknown step.
                fault = rng.choice(["lose", "lose", "drop"])
                spec = "%s:method=write,nth=%d" % (fault, rng.randint(1, writes))
                w.sbx.set_faults([spec])
                w.bcli(args, store, ctx=attempt)
                w.sbx.set_faults([])
                killed = False
                attempt += " (run: %s)" % spec
            elif mode < 0.93:
                w.sbx.set_faults([])
                p = w.spawn(args, store)
                lines = rng.randint(0, n)
                extra = rng.randint(0, 30)
                killed = t.lines_then_kill(p, lines, extra)
                attempt += " (run: kill after %d lines + %d ms)" % (lines, extra)
            else:
                w.sbx.set_faults([])
                w.bcli(args, store, ctx=attempt, allowed={0})
                killed = False
                attempt += " (run: uninterrupted)"
            kills["run"] += killed
            tried += 1
            w.check(attempt)
            listed = (w.bcli(["batch", "list", "--format", "json", "--limit", "1000000"], store, ctx=attempt).json() or {"runs": []})["runs"]
            mine = [r for r in listed if r["id"] not in known and r.get("kind", "batch") == "batch"]
            if not mine:
                # Killed before the run row: nothing was sent (checked above); nothing to recover.
                survived += t.violation_count == attempt_start
                continue
            rid = mine[0]["id"]
            done = False
            for it in range(14):
                # Kills in the first 8 iterations; then the family is left to finish.
                may_kill = it < 8
                orig, resumes = recover_family(w, store, rid, attempt)
                if orig is None:
                    t.violation("ledger-readable", name, attempt, "`batch state %s` unreadable" % rid)
                    break
                fam = [orig] + resumes
                best = {}
                unknown_runs = []
                for doc in fam:
                    for s in doc["steps"]:
                        if s["status"] in RECOVER_DONE:
                            best[s["seq"]] = s
                    if any(s["status"] == "unknown" for s in doc["steps"]):
                        unknown_runs.append(doc["run"]["id"])
                if len(best) == n and not unknown_runs:
                    done = True
                    break
                if unknown_runs and rng.random() < 0.75:
                    for urid in unknown_runs:
                        rargs = ["batch", "reconcile", urid, "--format", "json"]
                        if may_kill and rng.random() < 0.6:
                            p = w.spawn(rargs, store)
                            ms = rng.randint(0, 120)
                            time.sleep(ms / 1000.0)
                            if t.kill(p):
                                kills["reconcile"] += 1
                                attempt_k = attempt + " reconcile %s killed after %d ms" % (urid[:8], ms)
                            else:
                                attempt_k = attempt + " reconcile %s (ended before the kill)" % urid[:8]
                            w.check(attempt_k)
                            continue
                        res = w.bcli(rargs, store, ctx=attempt, allowed={0, 1})
                        doc = res.json() or {}
                        decisions["undecidable"] += sum(1 for s in doc.get("steps", []) if s.get("decision") == "undecidable")
                        w.check(attempt + " reconcile %s" % urid[:8])
                    continue
                rargs = ["batch", "resume", rid] + (["--reconcile"] if unknown_runs else [])
                if may_kill and rng.random() < 0.7:
                    w.sbx.set_faults([])
                    p = w.spawn(rargs, store)
                    lines = rng.randint(0, 8)
                    extra = rng.randint(0, 30)
                    if t.lines_then_kill(p, lines, extra):
                        kills["resume"] += 1
                    w.check(attempt + " resume killed after %d lines + %d ms" % (lines, extra))
                    continue
                w.sbx.set_faults([])
                res = w.bcli(rargs, store, ctx=attempt, allowed={0, 1, 8})
                if res.code == 8 and not unknown_runs:
                    t.violation("recover-refused", name, attempt, "`batch resume %s` refused (exit 8) with no unknown step in the family: %s" % (
                        rid[:12], res.err.strip()[-300:]))
                    break
                if res.code == 1 and "undecidable" not in res.err:
                    t.violation("recover-step-failed", name, attempt, "`batch resume %s` exit 1: %s" % (rid[:12], res.err.strip()[-300:]))
                    break
                w.check(attempt + " resume")
            w.check(attempt + " recovered")
            orig, resumes = recover_family(w, store, rid, attempt)
            resume_runs += len(resumes)
            for d in ([orig] + resumes if orig else []):
                for s in d["steps"]:
                    if s["status"] == "reconciled_applied":
                        decisions["applied"] += 1
                    elif s["status"] == "reconciled_not_applied":
                        decisions["not_applied"] += 1
            fam = [orig] + resumes if orig else []
            fam_ids = {d["run"]["id"] for d in fam}
            undecided = [s for d in fam for s in d["steps"] if s["status"] == "unknown"]
            if not done:
                stuck += 1
                t.notes.append("recover %s: run %s not done after 14 recovery iterations; %d step(s) stay unknown (%s)" % (
                    attempt, rid[:12], len(undecided), ", ".join("%s %s" % (s["name"], s["method"]) for s in undecided[:5])))
            # Exactly once: each manifest write of the family is in the journal once (none twice;
            # none missing once the family is done).
            per_seq = {}
            for crid, e in w.journal_crids.items():
                s = w.steps.get(crid)
                if s is not None and s.get("_run") in fam_ids:
                    per_seq.setdefault(s["seq"], []).append(e)
            write_seqs = [d["seq"] for d in (orig or {}).get("steps", [])]   # seq base as the ledger numbers them
            base = min(write_seqs) if write_seqs else 1
            for idx, (kind, _, _) in enumerate(plan):
                if kind == "g":
                    continue
                seq = idx + base
                got = per_seq.get(seq, [])
                if len(got) > 1:
                    t.violation("exactly-once", name, attempt, "step %s (seq %d) of run %s is in the journal %d times: %s" % (
                        names[idx], seq, rid[:12], len(got), ["seq %s %s crid %s" % (e.get("seq"), e.get("method"), e.get("client_request_id")) for e in got]))
                elif done and not got:
                    t.violation("exactly-once", name, attempt, "step %s (seq %d) of run %s is done in the ledger but not in the journal" % (
                        names[idx], seq, rid[:12]))
            if done:
                mine_recs = recover_records(w, tag)
                ref_recs = recover_records(w, ref_tag) if ref.code == 0 else None
                if ref_recs is not None and mine_recs != ref_recs:
                    t.violation("recover-equals-reference", name, attempt, "run %s: only after recovery %s; only in the reference %s" % (
                        rid[:12], sorted(mine_recs - ref_recs)[:4], sorted(ref_recs - mine_recs)[:4]))
                last = resumes[-1]["run"] if resumes else orig["run"]
                if orig["run"].get("state") != "completed" and last.get("state") != "completed":
                    t.violation("recover-completed", name, attempt, "run %s reads %s, its last resume run %s reads %s" % (
                        rid[:12], orig["run"].get("state"), last.get("id", "-")[:12], last.get("state")))
            v = w.bcli(["batch", "verify", "--all"], store, ctx=attempt)
            if v.code != 0:
                t.violation("verify-clean", name, attempt, "verify --all exit %d: %s %s" % (v.code, v.out.strip()[-300:], v.err.strip()[-300:]))
            survived += t.violation_count == attempt_start
        before = t.violation_count
        w.fsck(name + " end")
        if t.violation_count > before and survived:
            survived -= 1
    finally:
        w.close()
    t.kills["recover"] = t.kills.get("recover", 0) + sum(kills.values())
    t.record(name, tried, survived, "%d SIGKILLs (run %d, reconcile %d, resume %d); reconciled applied %d, not applied %d, undecidable %d; %d resume runs; %d not done" % (
        sum(kills.values()), kills["run"], kills["reconcile"], kills["resume"], decisions["applied"], decisions["not_applied"],
        decisions["undecidable"], resume_runs, stuck))


MUTATED_OK = {0, 1, 2, 4, 5, 8, 9}


def mutate_bytes(rng, data):
    data = bytearray(data)
    op = rng.choice(["flip", "flip", "delete", "insert", "truncate", "dup", "junk", "nul", "utf8"])
    if not data:
        return bytes(data), "empty"
    i = rng.randrange(len(data))
    if op == "flip":
        for _ in range(rng.randint(1, 4)):
            j = rng.randrange(len(data))
            data[j] ^= 1 << rng.randrange(8)
    elif op == "delete":
        del data[i:i + rng.randint(1, 40)]
    elif op == "insert":
        data[i:i] = bytes(rng.choice(b"{}[]:,-'\"&*!|>%@`#\n \t") for _ in range(rng.randint(1, 8)))
    elif op == "truncate":
        del data[i:]
    elif op == "dup":
        j = rng.randrange(len(data))
        data[i:i] = data[min(i, j):max(i, j)][:4096]
    elif op == "junk":
        data[i:i] = os.urandom(rng.randint(1, 32))
    elif op == "nul":
        data[i:i] = b"\x00"
    elif op == "utf8":
        data[i:i] = rng.choice([b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf"])
    return bytes(data), op


def section_mutated_manifests(t, count):
    name = "mutated-manifests"
    rng = t.rng(name)
    w = World(t, name)
    store = w.store("store")
    tried = survived = 0
    share_end = t.section_end(name)
    try:
        base, n, writes = kill_manifest(rng, "m0")
        specials = [
            ("deep-flow-map", "name: deep\nsteps:\n  - {name: a, action: post, endpoint: customers, data: " + "{a: " * 5000 + "1" + "}" * 5000 + "}\n"),
            ("deep-flow-seq", "name: deep\nsteps:\n  - {name: a, action: post, endpoint: customers, data: {x: " + "[" * 20000 + "]" * 20000 + "}}\n"),
            ("deep-block", "name: deep\nsteps:\n  - name: a\n    action: post\n    endpoint: customers\n    data:\n" + "".join("  " * (k + 3) + "k%d:\n" % k for k in range(3000)) + "  " * 3003 + "v: 1\n"),
            ("alias-bomb", "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\nsteps: []\n"),
            ("huge-scalar", "name: big\nsteps:\n  - {name: a, action: post, endpoint: customers, data: {displayName: \"" + "x" * 3_000_000 + "\"}}\n"),
            ("many-steps", "name: many\nsteps:\n" + "".join("  - {name: s%d, action: get, endpoint: customers(}\n" % k for k in range(20000))),
            ("ref-deep", "name: r\nsteps:\n  - {name: a, action: get, endpoint: customers, id: \"${{ steps.a" + ".x" * 10000 + " }}\"}\n"),
            ("alias-bomb-data", "name: bomb\nparams:\n  a: &a [x,x,x,x,x,x,x,x,x,x]\n" + "".join(
                "  %s: &%s [%s]\n" % (c, c, ",".join(["*" + p] * 10)) for p, c in zip("abcdefg", "bcdefgh")) +
                "steps:\n  - {name: s, action: post, endpoint: customers, data: {displayName: *h}}\n"),
            ("bad-endpoint", "name: r\nsteps:\n  - {name: a, action: delete, endpoint: \"../../x\", id: \"..\"}\n"),
            ("nul", "name: n\x00\nsteps:\n  - {name: a, endpoint: customers}\n"),
            ("empty", ""),
            ("only-bom", "\ufeff"),
            ("tabs", "name: t\nsteps:\n\t- {name: a, endpoint: customers}\n"),
            ("binary", None),
        ]
        cases = [(k, v.encode() if isinstance(v, str) else os.urandom(4096)) for k, v in specials]
        while len(cases) < count:
            data, op = mutate_bytes(rng, base.encode())
            if rng.random() < 0.3:
                data, op2 = mutate_bytes(rng, data)
                op += "+" + op2
            cases.append(("mutation-%s" % op, data))
        for k, (label, data) in enumerate(cases[:max(count, len(specials))]):
            if t.over_budget(share_end):
                break
            path = os.path.join(t.root, "%s-%d.yaml" % (name, k))
            with open(path, "wb") as f:
                f.write(data)
            w.manifests[os.path.realpath(path)] = (None, None)
            attempt = "case %d %s (%s)" % (k, label, path)
            before = t.violation_count
            t.run(["batch", "run", "-p", "sandbox", path], w.env(store), ctx=attempt, allowed=MUTATED_OK, section=name, timeout=60)
            t.run(["batch", "run", "-p", "sandbox", path, "--dry-run"], w.env(store), ctx=attempt + " --dry-run", allowed=MUTATED_OK, section=name, timeout=60)
            tried += 1
            survived += t.violation_count == before
        # Deep values through --set and --params on a valid manifest.
        ptext = "name: p\nparams:\n  v: 1\nsteps:\n  - {name: a, action: get, endpoint: customers, params: {top: 1}}\n"
        ppath = w.manifest("params", ptext, 1, 0)
        deep_file = os.path.join(t.root, name + "-deep-params.yaml")
        with open(deep_file, "w") as f:
            f.write("v: " + "[" * 20000 + "]" * 20000 + "\n")
        for label, extra in [("deep --set list", ["--set", "v=" + "[" * 20000 + "]" * 20000]),
                             ("deep --set map", ["--set", "v=" + "{a: " * 5000 + "1" + "}" * 5000]),
                             ("deep --params", ["--params", deep_file]),
                             ("huge --set", ["--set", "v=" + "q" * 120_000])]:
            before = t.violation_count
            t.run(["batch", "run", "-p", "sandbox", ppath] + extra, w.env(store), ctx=label, allowed=MUTATED_OK, section=name, timeout=60)
            tried += 1
            survived += t.violation_count == before
        before = t.violation_count
        w.check(name + " end")
        w.fsck(name + " end")
        survived -= min(survived, t.violation_count - before)
    finally:
        w.close()
    t.record(name, tried, survived, "")


def config_is_local(data):
    """Everything stays on 127.0.0.1: a mutation that could send bcli elsewhere (a changed host, a
    lost `token_url` that would fall back to the public authority) is not run."""
    text = data.decode("utf-8", "replace")
    for m in re.finditer(r"://\[?([^/:\]\"'\s]*)", text):
        if m.group(1) not in ("127.0.0.1",):
            return False
    return bool(re.search(r'(?m)^base_url = "http://127\.0\.0\.1:\d+"$', text)) and \
        bool(re.search(r'(?m)^token_url = "http://127\.0\.0\.1:\d+/', text))


def section_mutated_configs(t, count):
    name = "mutated-configs"
    rng = t.rng(name)
    w = World(t, name)
    store = w.store("store")
    tried = survived = 0
    share_end = t.section_end(name)
    try:
        text = "name: cfg\nsteps:\n  - {name: a, action: get, endpoint: customers}\n"
        manifest = w.manifest("cfg", text, 1, 0)
        base = ('[profiles.local]\ntenant_id = "sandbox"\nenvironment = "production"\ncompany_id = "%s"\n'
                'client_id = "bcli-sandbox"\nclient_secret_env = "TORTURE_SECRET"\nbase_url = "%s"\n'
                'token_url = "%s/sandbox/oauth2/v2.0/token"\n' % (COMPANY, w.sbx.url, w.sbx.url))
        specials = [
            ("deep-tables", "[" + ".".join("t%d" % k for k in range(5000)) + "]\nx = 1\n" + base),
            ("deep-inline", "x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n" + base),
            ("deep-array", "x = " + "[" * 20000 + "]" * 20000 + "\n" + base),
            ("huge-string", base + 'junk = "' + "y" * 3_000_000 + '"\n'),
            ("bad-escape", base.replace('"sandbox"', '"sand\\q\\u00"', 1)),
            ("dup-key", base + 'tenant_id = "x"\n'),
            ("dup-table", base + base),
            ("empty", ""),
            ("nul", base.replace("production", "prod\x00uction")),
            ("bad-url", base.replace(w.sbx.url, "http://[::1", 1)),
            ("port-0", base.replace(w.sbx.url, "http://127.0.0.1:0", 1)),
            ("not-http", base.replace(w.sbx.url, "file:///etc/passwd", 1)),
        ]
        cases = [(k, v.encode()) for k, v in specials]
        tries = 0
        while len(cases) < count and tries < count * 20:
            tries += 1
            data, op = mutate_bytes(rng, base.encode())
            if config_is_local(data):
                cases.append(("mutation-" + op, data))
        cfgdir = os.path.join(t.root, name + "-config", "bcli")
        os.makedirs(cfgdir, exist_ok=True)
        for k, (label, data) in enumerate(cases[:max(count, len(specials))]):
            if t.over_budget(share_end):
                break
            with open(os.path.join(cfgdir, "config.toml"), "wb") as f:
                f.write(data)
            env = w.env(store)
            env["XDG_CONFIG_HOME"] = os.path.dirname(cfgdir)
            env["TORTURE_SECRET"] = "bcli-sandbox-secret"
            attempt = "case %d %s" % (k, label)
            before = t.violation_count
            t.run(["batch", "run", "-p", "local", manifest], env, ctx=attempt, allowed={0, 1, 2, 3, 4, 5, 8, 9}, section=name, timeout=60)
            t.run(["batch", "run", "-p", "sandbox", manifest], env, ctx=attempt + " (built-in profile)", allowed={0, 1, 2, 3, 4, 5, 8, 9}, section=name, timeout=60)
            tried += 1
            survived += t.violation_count == before
        before = t.violation_count
        w.check(name + " end")
        survived -= min(survived, t.violation_count - before)
    finally:
        w.close()
    t.record(name, tried, survived, "")


def section_mutated_bundles(t, count):
    name = "mutated-bundles"
    rng = t.rng(name)
    w = World(t, name)
    store = w.store("store")
    tried = survived = 0
    share_end = t.section_end(name)
    try:
        text, n, writes = kill_manifest(rng, "b0")
        path = w.manifest("b0", text, n, writes)
        res = w.bcli(["batch", "run", "-p", "sandbox", path, "--format", "json"], store, ctx="export source", allowed={0}, section=name)
        run_id = (res.json() or {}).get("run_id")
        bundle = os.path.join(t.root, name + ".tar")
        w.bcli(["batch", "export", run_id, "-o", bundle], store, ctx="export", allowed={0}, section=name)
        original = open(bundle, "rb").read()
        cases = []

        def octal_field(data, header_at, off, size, value):
            d = bytearray(data)
            d[header_at + off:header_at + off + size] = value.ljust(size, b"\x00")[:size]
            return bytes(d)
        headers = [i for i in range(0, len(original) - 512, 512) if original[i + 257:i + 262] == b"ustar"]
        cases += rebuilt_bundles(original)
        cases.append(("truncated-half", original[:len(original) // 2]))
        cases.append(("no-end-blocks", original.rstrip(b"\x00")))
        cases.append(("padding-junk", original + os.urandom(700)))
        cases.append(("padding-zero-extra", original + b"\x00" * 10240))
        cases.append(("empty", b""))
        cases.append(("one-block", original[:512]))
        header_cases = []
        for h in headers[:6]:
            header_cases.append(("size-huge@%d" % h, octal_field(original, h, 124, 12, b"77777777777\x00")))
            header_cases.append(("size-neg@%d" % h, octal_field(original, h, 124, 12, b"-0000000001\x00")))
            header_cases.append(("size-garbage@%d" % h, octal_field(original, h, 124, 12, b"zz\x00")))
            header_cases.append(("name-traversal@%d" % h, octal_field(original, h, 0, 100, b"../../../../tmp/torture-escape")))
            header_cases.append(("typeflag-symlink@%d" % h, octal_field(original, h, 156, 1, b"2")))
        # The quick size takes a seeded sample of the header cases; the full size takes them all.
        cases += rng.sample(header_cases, max(0, min(len(header_cases), count - len(cases))))
        while len(cases) < count:
            data = original
            for _ in range(rng.randint(1, 3)):
                d = bytearray(data)
                j = rng.randrange(len(d))
                d[j] ^= 1 << rng.randrange(8)
                data = bytes(d)
            cases.append(("flip", data))
        for k, (label, data) in enumerate(cases[:max(count, 12)]):
            if t.over_budget(share_end):
                break
            f = os.path.join(t.root, "%s-%d.tar" % (name, k))
            with open(f, "wb") as fh:
                fh.write(data)
            dest = os.path.join(t.root, "%s-import-%d" % (name, k))
            attempt = "case %d %s" % (k, label)
            before = t.violation_count
            t.run(["batch", "verify", "--bundle", f], t.env(dest, w.sbx.url), ctx=attempt + " verify --bundle", allowed=MUTATED_OK, section=name, timeout=60)
            res = t.run(["batch", "import", f], t.env(dest, w.sbx.url), ctx=attempt, allowed=MUTATED_OK, section=name, timeout=60)
            if res.code == 0:
                t.run(["batch", "verify", "--all"], t.env(dest), ctx=attempt + " imported", allowed={0}, section=name)
                r2 = t.run(["batch", "fsck"], t.env(dest), ctx=attempt + " imported")
                if r2.code != 0:
                    t.violation("fsck-clean", name, attempt, "fsck of the imported store exit %d: %s" % (r2.code, r2.out[-300:]))
            if os.path.exists("/tmp/torture-escape"):
                t.violation("bundle-path", name, attempt, "import wrote /tmp/torture-escape outside the store")
                os.unlink("/tmp/torture-escape")
            shutil.rmtree(dest, ignore_errors=True)
            tried += 1
            survived += t.violation_count == before
    finally:
        w.close()
    t.record(name, tried, survived, "")


def rebuilt_bundles(original):
    """Well-formed tar files (valid checksums) with hostile members: deep JSON rows, a member
    named twice, thousands of members, a blob whose bytes do not match its name."""
    import io
    import tarfile
    src = tarfile.open(fileobj=io.BytesIO(original))
    members = [(m, src.extractfile(m).read() if m.isfile() else b"") for m in src.getmembers()]

    def build(items):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as out:
            for name, data in items:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o444
                out.addfile(info, io.BytesIO(data))
        return buf.getvalue()
    plain = [(m.name, d) for m, d in members]
    deep = b"[" * 200000 + b"]" * 200000
    out = []
    for target in ("rows/run.json", "rows/steps.json", "bcli-bundle.json"):
        out.append(("deep-json %s" % target, build([(n, deep if n == target else d) for n, d in plain])))
    out.append(("member-twice", build(plain + plain[:2])))
    out.append(("many-members", build(plain + [("blobs/sha256/%064x" % k, b"") for k in range(5000)])))
    blob = next((n for n, _ in plain if n.startswith("blobs/")), None)
    if blob:
        out.append(("blob-bytes-swapped", build([(n, b"not these bytes" if n == blob else d) for n, d in plain])))
    return out


def tree_snapshot(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            try:
                with open(p, "rb") as fh:
                    out[os.path.relpath(p, root)] = hashlib.sha256(fh.read()).hexdigest()
            except OSError:
                out[os.path.relpath(p, root)] = "?"
    return out


def section_damaged_ledgers(t):
    """A store with runs is damaged in several ways; every command refuses it with exit 9 (fsck and
    verify --all: a finding, exit 1, or 9), sends nothing and creates nothing."""
    name = "damaged-ledgers"
    rng = t.rng(name)
    w = World(t, name)
    tried = survived = 0
    try:
        good = w.store("good")
        text, n, writes = kill_manifest(rng, "d0")
        path = w.manifest("d0", text, n, writes)
        res = w.bcli(["batch", "run", "-p", "sandbox", path, "--format", "json"], good, ctx="setup", allowed={0}, section=name)
        run_id = (res.json() or {}).get("run_id", "0" * 32)
        text2, n2, writes2 = kill_manifest(rng, "d1")
        path2 = w.manifest("d1", text2, n2, writes2)
        w.bcli(["batch", "run", "-p", "sandbox", path2], good, ctx="setup", allowed={0}, section=name)
        # Settle the WAL into the main file so copies are complete without -wal/-shm.
        db = sqlite3.connect(os.path.join(good, "ledger.sqlite3"))
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()

        def rm_db(s):
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(os.path.join(s, "ledger.sqlite3" + suffix)):
                    os.unlink(os.path.join(s, "ledger.sqlite3" + suffix))

        def zero(s):
            rm_db(s)
            open(os.path.join(s, "ledger.sqlite3"), "wb").close()

        def garbage(s):
            rm_db(s)
            with open(os.path.join(s, "ledger.sqlite3"), "wb") as f:
                f.write(b"this is not a database, it is a text file\n" * 200)

        def truncated(s):
            p = os.path.join(s, "ledger.sqlite3")
            size = os.path.getsize(p)
            with open(p, "r+b") as f:
                f.truncate(max(100, size // 3))

        def header_flip(s):
            p = os.path.join(s, "ledger.sqlite3")
            with open(p, "r+b") as f:
                f.seek(0)
                f.write(b"SQLite format 9\x00")

        def newer_schema(s):
            c = sqlite3.connect(os.path.join(s, "ledger.sqlite3"))
            c.execute("INSERT INTO grdb_migrations(identifier) VALUES ('999-from-the-future')")
            c.commit()
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            c.close()

        def only_head(s):
            rm_db(s)
            shutil.rmtree(os.path.join(s, "objects"), ignore_errors=True)

        def only_blobs(s):
            rm_db(s)
            if os.path.exists(os.path.join(s, "refs", "head")):
                os.unlink(os.path.join(s, "refs", "head"))

        cases = [("db-missing", rm_db, True), ("db-zero-bytes", zero, True), ("not-a-database", garbage, False),
                 ("db-truncated", truncated, False), ("db-header", header_flip, False), ("newer-schema", newer_schema, False),
                 ("only-refs-head", only_head, True), ("only-blobs", only_blobs, True)]
        # Exit 9 must come with a message naming the cause.
        damaged = r"damaged|missing|empty|0 bytes|gone"
        CAUSE = {k: re.compile(v, re.I) for k, v in {
            "db-missing": damaged, "db-zero-bytes": damaged, "only-refs-head": damaged, "only-blobs": damaged,
            "not-a-database": r"not a|database", "db-header": r"not a|database|corrupt|malformed",
            "db-truncated": r"corrupt|malformed|damaged|not a", "newer-schema": r"newer|upgrade"}.items()}
        commands = [
            (["batch", "run", "-p", "sandbox", path], {9}),
            (["batch", "list"], {9}),
            (["batch", "state", run_id], {9}),
            (["batch", "show", run_id], {9}),
            (["batch", "rollback", run_id, "--yes"], {9}),
            (["batch", "export", run_id, "-o", os.path.join(t.root, "damaged-export.tar")], {9}),
            (["batch", "gc"], {9}),
            (["batch", "verify", run_id], {9}),
            (["batch", "verify", "--all"], {1, 9}),
            (["batch", "fsck"], {1, 9}),
        ]
        for label, damage, missing_kind in cases:
            attempt = label
            before = t.violation_count
            for args, want in commands:
                # Each command gets its own copy of the damaged store, so one command's damage
                # (a new empty ledger) cannot hide the next command's behaviour.
                store = os.path.join(t.root, "%s-%s" % (name, label))
                shutil.rmtree(store, ignore_errors=True)
                shutil.copytree(good, store, symlinks=True)
                damage(store)
                snap = tree_snapshot(store)
                journal_before = len(w.sbx.journal())
                if missing_kind and (args[1] == "fsck" or "--all" in args):
                    want = {1}
                what = " ".join(args[:2])
                res = t.run(args, t.env(store, w.sbx.url), ctx="%s: %s" % (label, what), allowed=want, section=name)
                if res.code == 9 and not CAUSE[label].search(res.err):
                    t.violation("damaged-refused", name, attempt, "bcli %s exit 9 without naming the cause (%s): %s" % (
                        what, CAUSE[label].pattern, res.err.strip()[-300:]))
                after = tree_snapshot(store)
                if after != snap:
                    added = sorted(set(after) - set(snap))
                    changed = sorted(k for k in snap if k in after and after[k] != snap[k])
                    removed = sorted(set(snap) - set(after))
                    t.violation("damaged-refused", name, attempt, "bcli %s changed the damaged store: added %s changed %s removed %s" % (
                        what, added[:4], changed[:4], removed[:4]))
                w.sbx.quiesce()
                if len(w.sbx.journal()) != journal_before:
                    t.violation("damaged-refused", name, attempt, "bcli %s sent writes to the server although the store is damaged" % what)
                    w.ignored_crids.update(e.get("client_request_id") for e in w.sbx.journal()[journal_before:])
            tried += 1
            survived += t.violation_count == before
            shutil.rmtree(store, ignore_errors=True)
        # Read-only folders do not stop root; say so rather than pretend.
        if os.geteuid() == 0:
            t.notes.append("damaged-ledgers: read-only store not tried (running as root, permissions do not apply)")
    finally:
        w.close()
    t.record(name, tried, survived, "%d damages x %d commands" % (tried, 10))


def section_enospc(t):
    name = "enospc"
    if os.geteuid() != 0 and not t.opts.enospc_dir:
        t.record(name, 0, 0, "skipped: not root, cannot mount a tmpfs (give --enospc-dir DIR on a small filesystem)")
        return
    mnt = t.opts.enospc_dir or os.path.join(t.root, "tmpfs")
    mounted = False
    if not t.opts.enospc_dir:
        os.makedirs(mnt, exist_ok=True)
        if not shutil.which("mount"):
            t.record(name, 0, 0, "skipped: no mount command")
            return
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", mnt], capture_output=True)
        if r.returncode != 0:
            t.record(name, 0, 0, "skipped: mount -t tmpfs failed: %s" % r.stderr.decode().strip()[:120])
            return
        mounted = True
    rng = t.rng(name)
    w = World(t, name)
    tried = survived = 0
    try:
        store = os.path.join(mnt, "store")
        w.stores.append(store)
        big = "z" * 30000
        filler = os.path.join(mnt, "filler")
        saw9 = False
        for i in range(1, 60):
            # Leave a random amount of room, then run until the disk is full.
            st = os.statvfs(mnt)
            free = st.f_bavail * st.f_frsize
            keep = rng.randint(0, 1_400_000)
            if free > keep + 4096:
                with open(filler, "ab") as f:
                    f.write(b"\0" * (free - keep))
            text = "name: fill\nsteps:\n" + "".join(
                '  - {name: s%d, action: post, endpoint: customers, data: {displayName: "%d-%d %s"}}\n' % (k, i, k, big[:29000 - k])
                for k in range(10))
            path = w.manifest("fill%d" % i, text, 10, 10)
            attempt = "round %d (%d bytes free)" % (i, keep)
            before = t.violation_count
            res = t.run(["batch", "run", "-p", "sandbox", path] + (["--durability", "full"] if i % 2 else []), w.env(store),
                        ctx=attempt, allowed={0, 9}, section=name)
            if res.code == 9:
                saw9 = True
                if not re.search(r"space|ENOSPC|full", res.err, re.I):
                    t.violation("enospc", name, attempt, "exit 9 without naming the cause: %s" % res.err.strip()[-300:])
            os.unlink(filler) if os.path.exists(filler) else None
            w.check(attempt)
            w.fsck(attempt)
            tried += 1
            survived += t.violation_count == before
            if tried >= (6 if t.opts.quick else 40):
                break
        if not saw9:
            t.notes.append("enospc: no run hit ENOSPC (exit 9) in %d rounds" % tried)
    finally:
        w.close()
        if mounted:
            subprocess.run(["umount", mnt], capture_output=True)
    t.record(name, tried, survived, "tmpfs 4 MiB")


# --------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(prog="scripts/torture", description="bcli fault campaign (issue 8); see docs/reliability.md")
    ap.add_argument("--quick", action="store_true", help="CI size: >= 50 run kills, >= 20 rollback kills, >= 30 recovery kills, <= 4 minutes")
    ap.add_argument("--seed", type=int, default=None, help="makes the kills reproducible (default: random, printed first)")
    ap.add_argument("--runs", type=int, default=None, help="run kills (full: 500, quick: 54)")
    ap.add_argument("--rollbacks", type=int, default=None, help="rollback kills (full: 100, quick: 20)")
    ap.add_argument("--sections", default=",".join(SECTIONS), help="comma list of: " + ", ".join(SECTIONS))
    ap.add_argument("--budget", type=float, default=None, help="seconds (quick: 225); sections stop early when it runs out")
    ap.add_argument("--bcli", default=None, help="the binary (scripts/torture passes $BCLI or .build/release/bcli)")
    ap.add_argument("--enospc-dir", default=None, help="a small filesystem to fill instead of mounting a tmpfs")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--report", default=None, help="also write the table and every violation to this JSON file")
    ap.add_argument("--verbose", "-v", action="store_true", help="print each violation as it is found")
    opts = ap.parse_args()
    if opts.seed is None:
        opts.seed = int.from_bytes(os.urandom(4), "big") % 1_000_000
    if opts.runs is None:
        opts.runs = 54 if opts.quick else 500
    if opts.rollbacks is None:
        opts.rollbacks = 20 if opts.quick else 100
    if opts.budget is None and opts.quick:
        opts.budget = 225
    sections = [s.strip() for s in opts.sections.split(",") if s.strip()]
    for s in sections:
        if s not in SECTIONS:
            ap.error("unknown section %r" % s)
    if not opts.bcli or not os.access(opts.bcli, os.X_OK):
        ap.error("no bcli binary at %r" % opts.bcli)

    t = Torture(opts)
    t.notes = []
    t.missed = []

    # Budget shares (quick): the kill sections get most of the time.
    weights = {"self-test": 1, "kill-run": 26, "kill-run-hold": 26, "kill-rollback": 24, "faults": 5, "concurrent": 5, "new-store-race": 3, "recover": 20,
               "mutated-manifests": 4, "mutated-configs": 2, "mutated-bundles": 2, "damaged-ledgers": 2, "enospc": 1}
    plan = {}

    def section_end(sec):
        return plan.get(sec)
    t.section_end = section_end

    def record(section, tried, survived, note):
        failures = tried - survived
        t.table.append((section, tried, survived, failures, note))
        log("  %-18s tried %4d  survived %4d  failures %4d  %s  (%.0fs)" % (section, tried, survived, failures, note, time.monotonic() - t.start))
    t.record = record

    log("torture: seed %d (reproduce: scripts/torture%s --seed %d --runs %d --rollbacks %d), bcli %s, scratch %s" % (
        opts.seed, " --quick" if opts.quick else "", opts.seed, opts.runs, opts.rollbacks, opts.bcli, t.root))
    quick = opts.quick
    hold_share = opts.runs // 2
    runners = {
        "self-test": lambda: section_self_test(t),
        "kill-run": lambda: section_kill_run(t, "kill-run", opts.runs - hold_share, hold=False),
        "kill-run-hold": lambda: section_kill_run(t, "kill-run-hold", hold_share, hold=True),
        "kill-rollback": lambda: section_kill_rollback(t, opts.rollbacks),
        "faults": lambda: section_faults(t, 12 if quick else 60),
        "concurrent": lambda: section_concurrent(t, 4 if quick else 25),
        "new-store-race": lambda: section_new_store_race(t, 3 if quick else 15),
        "recover": lambda: section_recover(t, quick),
        "mutated-manifests": lambda: section_mutated_manifests(t, 16 if quick else 200),
        "mutated-configs": lambda: section_mutated_configs(t, 12 if quick else 80),
        "mutated-bundles": lambda: section_mutated_bundles(t, 20 if quick else 120),
        "damaged-ledgers": lambda: section_damaged_ledgers(t),
        "enospc": lambda: section_enospc(t),
    }
    interrupted = False

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, signal.default_int_handler)   # even when started with SIGINT ignored
    try:
        total_w = sum(weights[s] for s in sections)
        used = 0
        for s in sections:
            if opts.budget:
                used += weights[s]
                plan[s] = t.start + opts.budget * used / total_w
            try:
                runners[s]()
            except KeyboardInterrupt:
                raise
            except Exception as e:   # a harness problem: report it as a failure of the section
                import traceback
                t.violation("harness", s, "-", "%s: %s" % (type(e).__name__, e))
                t.record(s, 0, 0, "harness error: %s" % e)
                traceback.print_exc()
            finally:
                t.reap_all()
    except KeyboardInterrupt:
        interrupted = True
        log("torture: interrupted")
    finally:
        t.reap_all()
        if not opts.keep:
            shutil.rmtree(t.root, ignore_errors=True)

    elapsed = time.monotonic() - t.start
    print()
    print("test | tried | survived | failures")
    print("---|---:|---:|---:")
    for sec, tried, survived, failures, note in t.table:
        print("%s | %d | %d | %d" % (sec + (" (%s)" % note if note else ""), tried, survived, failures))
    print()
    print("seed %d, %d run kills, %d rollback kills%s, %d violations, %.0f s" % (
        opts.seed, t.kills["run"], t.kills["rollback"],
        ", %d recovery kills" % t.kills["recover"] if "recover" in t.kills else "", len(t.violations), elapsed))
    short = []
    if "kill-run" in sections and "kill-run-hold" in sections and t.kills["run"] < opts.runs:
        short.append("only %d of %d run kills" % (t.kills["run"], opts.runs))
    if "kill-rollback" in sections and t.kills["rollback"] < opts.rollbacks:
        short.append("only %d of %d rollback kills" % (t.kills["rollback"], opts.rollbacks))
    want_recover = 30 if opts.quick else 300
    if "recover" in sections and t.kills.get("recover", 0) < want_recover:
        short.append("only %d of %d recovery kills" % (t.kills.get("recover", 0), want_recover))
    for n in t.notes:
        print("note: " + n)
    if t.violations:
        print()
        print("VIOLATIONS (invariant [section, attempt]: evidence):")
        by = {}
        for v in t.violations:
            by.setdefault(v[0], []).append(v)
        for inv, vs in sorted(by.items()):
            print("%s: %d" % (inv, len(vs)))
            for v in vs[:8]:
                print("  [%s, %s] %s" % (v[1], v[2], v[3][:700]))
            if len(vs) > 8:
                print("  ... %d more" % (len(vs) - 8))
    if opts.report:
        with open(opts.report, "w") as f:
            json.dump({"seed": opts.seed, "quick": opts.quick, "runs": opts.runs, "rollbacks": opts.rollbacks,
                       "seconds": round(elapsed), "kills": t.kills,
                       "table": [{"test": r[0], "tried": r[1], "survived": r[2], "failures": r[3], "note": r[4]} for r in t.table],
                       "violations": [{"invariant": v[0], "section": v[1], "attempt": v[2], "evidence": v[3]} for v in t.violations],
                       "notes": t.notes}, f, indent=1)
    if short:
        print("NOT ENOUGH KILLS: " + "; ".join(short) + " (time budget or the runs ended before the kill point)")
    sys.stdout.flush()
    if interrupted:
        return 130
    return 1 if (t.violations or short) else 0


if __name__ == "__main__":
    sys.exit(main())
