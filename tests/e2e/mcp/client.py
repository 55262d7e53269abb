"""End-to-end MCP client test for Loupe, with the official `mcp` Python SDK.

Run by tests/mcp.rs against a real `loupe serve` that has the `loupe demo`
workload; also by hand (docs/agents.md). It sends its own data first (a span
and a log carrying a marker secret, and one big trace), then, over stdio
(`loupe mcp --api URL`) and over Streamable HTTP (`URL/mcp`): initializes,
lists the tools, checks their input schemas with jsonschema, calls every
tool, checks what they answer against the demo workload, pages through the
big trace's summary within the budget, and checks that the marker secret is
in no answer. Exits non-zero with the reason on the first failed check.
"""

import argparse
import asyncio
import json
import os
import random
import sys
import time
import urllib.request

import jsonschema
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

TOOLS = {
    "list_services", "search_traces", "get_trace", "get_span", "get_related_traces",
    "search_logs", "list_metrics", "get_metric_series", "list_alerts", "alert_history",
    "get_critical_path", "get_statistics", "compare_traces", "compare_with_previous_run",
}
MARKER = "MARKER-s3cr3t"
BUDGET = 16000


def hexid(n):
    return "".join(random.choice("0123456789abcdef") for _ in range(n))


def post(url, doc):
    req = urllib.request.Request(url, data=json.dumps(doc).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        assert r.status == 200, f"{url}: {r.status}"


def kv(k, v):
    return {"key": k, "value": {"stringValue": v}}


def send_marker(otlp):
    """A failing span with db.password and a log with token=…: both secret."""
    trace, span = hexid(32), hexid(16)
    now = time.time_ns()
    post(f"{otlp}/v1/traces", {"resourceSpans": [{
        "resource": {"attributes": [kv("service.name", "marker-svc")]},
        "scopeSpans": [{"scope": {"name": "marker"}, "spans": [{
            "traceId": trace, "spanId": span, "name": "query users", "kind": 3,
            "startTimeUnixNano": str(now - 5_000_000), "endTimeUnixNano": str(now),
            "attributes": [kv("db.password", MARKER), kv("db.statement", "select 1"),
                           kv("http.url", f"https://api.example.com/x?token={MARKER}")],
            "status": {"code": 2, "message": "connection refused"},
            "events": [{"name": "exception", "timeUnixNano": str(now - 1_000_000), "attributes": [
                kv("exception.type", "DbError"), kv("exception.message", f"login failed password={MARKER}")]}],
        }]}],
    }]})
    post(f"{otlp}/v1/logs", {"resourceLogs": [{
        "resource": {"attributes": [kv("service.name", "marker-svc")]},
        "scopeLogs": [{"scope": {"name": "marker"}, "logRecords": [{
            "timeUnixNano": str(now - 2_000_000), "severityNumber": 17, "severityText": "ERROR",
            "body": {"stringValue": f"token={MARKER} rejected by upstream"},
            "attributes": [kv("auth.password", MARKER)],
            "traceId": trace, "spanId": span}]}],
    }]})
    return trace, span


def send_big(otlp, n):
    """One trace of n spans: a root, batches of 100 children, items under them."""
    trace = hexid(32)
    now = time.time_ns()
    start = now - 60_000_000_000
    root = hexid(16)
    spans = [{"traceId": trace, "spanId": root, "name": "big-root", "kind": 1,
              "startTimeUnixNano": str(start), "endTimeUnixNano": str(now)}]
    parents = []
    i = 1
    while i < n:
        if i % 100 == 1:
            p = hexid(16)
            parents.append(p)
            spans.append({"traceId": trace, "spanId": p, "parentSpanId": root, "name": f"batch-{len(parents)}",
                          "kind": 1, "startTimeUnixNano": str(start + i * 1000),
                          "endTimeUnixNano": str(start + i * 1000 + 500_000_000)})
        else:
            sp = {"traceId": trace, "spanId": hexid(16), "parentSpanId": parents[-1],
                  "name": f"item-{i % 7}", "kind": 1, "startTimeUnixNano": str(start + i * 1000),
                  "endTimeUnixNano": str(start + i * 1000 + (i % 13) * 1_000_000),
                  "attributes": [kv("item.index", str(i))]}
            if i % 997 == 0:
                sp["status"] = {"code": 2, "message": f"item {i} failed"}
            spans.append(sp)
        i += 1
    for k in range(0, len(spans), 5000):
        post(f"{otlp}/v1/traces", {"resourceSpans": [{
            "resource": {"attributes": [kv("service.name", "big-svc")]},
            "scopeSpans": [{"scope": {"name": "big"}, "spans": spans[k:k + 5000]}]}]})
    return trace, len(spans)


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


class Run:
    def __init__(self, session, label, args, transcript):
        self.s = session
        self.label = label
        self.args = args
        self.texts = []
        self.validators = {}
        self.transcript = transcript

    async def call(self, name, arguments, budget=None):
        self.validators[name].validate(arguments)
        r = await self.s.call_tool(name, arguments)
        text = "".join(c.text for c in r.content if getattr(c, "type", "") == "text")
        self.texts.append(text)
        limit = budget or arguments.get("max_bytes", BUDGET)
        check(len(text.encode()) <= limit, f"[{self.label}] {name} answered {len(text.encode())} bytes > {limit}")
        check(not r.is_error, f"[{self.label}] {name}({arguments}) failed: {text}")
        if self.transcript is not None:
            self.transcript.append(f"[{self.label}] call {name} {json.dumps(arguments)}\n  -> {text[:600]}{'…' if len(text) > 600 else ''}")
        return json.loads(text)

    async def analysis(self, failed):
        """The analysis tools against the demo workload (docs/api.md, "Trace analysis")."""
        a = self.args
        # The main trace's root is the API call that started the execution
        # (71 ms); its tasks end after it, and the path covers them up to the
        # last span to end (docs/api.md), which get_trace says.
        tr = await self.call("get_trace", {"trace_id": a.main})
        cpn = tr.get("criticalPath")
        check(cpn and cpn["top"] and "get_critical_path" in cpn["note"], f"get_trace has the critical path {cpn}")
        check("ended after" in cpn["note"], f"get_trace explains the short path {cpn}")
        check("not available" not in tr["treeNote"], f"stale tree note {tr['treeNote']}")
        cp = await self.call("get_critical_path", {"trace_id": a.main})
        check(cp["path"] and all(p["selfTime"] and p["service"] and p["name"] for p in cp["path"]), f"path {cp}")
        check(cp["path"][0]["service"] == "kestra" and "Commands" in cp["path"][0]["name"], f"the slow shell task leads the main path {cp['path']}")
        check(any(p["service"] == "upstream" for p in cp["path"]), f"the API call is on the main path too {cp['path']}")
        check(cp["link"] == f"{a.api}/trace/{a.main}", f"critical path link {cp['link']}")
        # A ForEachItem child: its slow shell task is on its path, with most of its time.
        child = await self.call("get_critical_path", {"trace_id": a.linked[0]})
        top = child["path"][0]
        check("Commands" in top["name"] and float(top["share"].rstrip("%")) > 50, f"slow task on the child's path {child['path']}")
        check(child["segments"], "segments in time order")
        stitched = await self.call("get_critical_path", {"trace_id": a.main, "linked": True})
        check(stitched["traces"] == 1 + len(a.linked), f"stitched view traces {stitched['traces']}")
        check(stitched["link"].endswith("?stitched=1"), f"stitched link {stitched['link']}")

        st = await self.call("get_statistics", {"trace_id": a.main})
        ops = st["operations"]
        check(ops and any(o["errors"] >= 1 and "Commands" in o["name"] for o in ops), f"failed shell task in statistics {ops}")
        check(st["spanCount"] == tr["summary"]["spans"], f"span counts {st['spanCount']} vs {tr['summary']['spans']}")
        sv = await self.call("get_statistics", {"trace_id": a.main, "group_by": "service"})
        check({"kestra", "upstream"} <= {s["service"] for s in sv["services"]}, f"services {sv['services']}")

        same = await self.call("compare_traces", {"a": a.main, "b": a.main})
        check(same["verdict"].startswith("no changes") and same["changes"] == [], f"a trace against itself {same}")
        check(same["link"] == f"{a.api}/compare?a={a.main}&b={a.main}", f"compare link {same['link']}")
        diff = await self.call("compare_traces", {"a": a.linked[0], "b": a.linked[1]})
        check(diff["summary"]["matched"] >= 1 and diff["link"].startswith(f"{a.api}/compare?a="), f"two batches {diff}")

        none = await self.call("compare_with_previous_run", {"trace_id": a.main})
        check(none["previous"] is None and none["note"].startswith("no previous run"), f"no previous run says so {none}")
        check("kestra.flowId=orders_pipeline" in none["note"], f"the run key is named {none['note']}")
        prev = await self.call("compare_with_previous_run", {"trace_id": a.marker_trace})
        check(prev["previous"]["traceId"] == a.marker_prev, f"previous run of the marker trace {prev}")
        check(prev["link"] == f"{a.api}/compare?a={a.marker_prev}&b={a.marker_trace}", f"previous-run compare link {prev['link']}")
        check(failed["spanId"] in json.dumps(cp["path"]), "the failed task, the last span to end, is on the main path")

    async def all(self):
        a = self.args
        tools = (await self.s.list_tools()).tools
        names = {t.name for t in tools}
        check(names == TOOLS, f"[{self.label}] tools {sorted(names)}")
        for t in tools:
            jsonschema.Draft202012Validator.check_schema(t.input_schema)
            check(t.input_schema.get("type") == "object", f"{t.name} schema type")
            check(t.description and "Example" in t.description, f"{t.name} has no example")
            self.validators[t.name] = jsonschema.Draft202012Validator(t.input_schema)
        # A wrong argument is refused by the schema (the client can tell).
        try:
            self.validators["get_trace"].validate({"trace_id": "nope"})
            raise Failed("schema accepted a bad trace_id")
        except jsonschema.ValidationError:
            pass

        svc = await self.call("list_services", {})
        for s in ["upstream", "kestra-webserver", "kestra", "downstream", "marker-svc"]:
            check(s in svc["services"], f"service {s} in {svc}")

        found = await self.call("search_traces", {"errors": True, "since": "1h", "limit": 50})
        ids = {t["traceId"]: t for t in found["traces"]}
        check(a.main in ids, f"main trace {a.main} among failed traces {list(ids)}")
        main = ids[a.main]
        check(main["link"] == f"{a.api}/trace/{a.main}", f"deep link {main['link']}")
        check(main.get("run", {}).get("kestra.namespace") == "company.team", f"run keys {main}")
        check(main["errors"] >= 1, "error count")

        q = await self.call("search_traces", {"q": "kestra.flowId=orders_pipeline", "since": "1h"})
        check(any(t["traceId"] == a.main for t in q["traces"]), f"q= search {q}")
        none = await self.call("search_traces", {"service": "no-such-service"})
        check(none["traces"] == [] and "note" in none, f"empty search says so: {none}")

        tr = await self.call("get_trace", {"trace_id": a.main})
        check(tr["summary"]["errorSpans"] >= 1, f"summary {tr['summary']}")
        failed = [e for e in tr["errors"] if e["attributes"].get("kestra.taskId") == "export_report"]
        check(failed, f"failed task export_report in errors {tr['errors']}")
        f = failed[0]
        check(any("Command failed with exit code 1" in (x["message"] or "") for x in f["exceptions"]), f"exception {f}")
        check(any(l["severity"] == "ERROR" for l in f["logs"]), f"error log of the failed task {f}")
        check(f["link"] == f"{a.api}/trace/{a.main}?span={f['spanId']}", f"span link {f['link']}")
        check(tr["slowest"] and tr["tree"], "slowest and tree")
        check(tr.get("related", {}).get("incoming") == len(a.linked), f"related counts {tr.get('related')}")

        sp = await self.call("get_span", {"trace_id": a.main, "span_id": f["spanId"]})
        check(sp["span"]["status"]["code"] == "ERROR", f"span status {sp['span']['status']}")
        check(any(e["name"] == "exception" for e in sp["span"]["events"]), "exception event")
        check(any(l["severity"] == "ERROR" for l in sp["logs"]), f"span logs {sp['logs']}")

        rel = await self.call("get_related_traces", {"trace_id": a.main})
        inc = {r["traceId"] for r in rel["related"] if r["direction"] == "incoming"}
        check(inc == set(a.linked), f"linked ForEachItem traces {inc} != {a.linked}")
        back = await self.call("get_related_traces", {"trace_id": a.linked[0]})
        check([r["traceId"] for r in back["related"] if r["direction"] == "outgoing"] == [a.main], f"outgoing {back}")

        logs = await self.call("search_logs", {"severity": "error", "trace_id": a.main})
        check(any(l.get("spanId") == f["spanId"] for l in logs["logs"]), f"error log by trace {logs}")
        words = await self.call("search_logs", {"q": "failed", "since": "1h", "limit": 5})
        check(words["logs"], "full-text log search")

        ms = await self.call("list_metrics", {"name": "kestra"})
        mnames = [m["name"] for m in ms["metrics"]]
        check("kestra.executor.execution.started.count" in mnames, f"metrics {mnames}")
        ser = await self.call("get_metric_series", {"name": "kestra.worker.running.count", "since": "1h", "points": 10})
        check(ser["lines"] and ser["lines"][0]["stats"]["points"] > 0, f"metric series {ser}")
        check(all(len(l["series"]) <= 10 for l in ser["lines"]), "down-sampled")

        al = await self.call("list_alerts", {})
        check("groups" in al, f"alerts {al}")
        hist = await self.call("alert_history", {"limit": 10})
        check("history" in hist, f"history {hist}")

        await self.analysis(f)

        gone = "0123456789abcdef0123456789abcdef"
        nf = await self.call("get_trace", {"trace_id": gone})
        check(nf["found"] is False and "retention" in nf["note"], f"missing trace says so {nf}")

        for tool, arg in [("get_critical_path", {"trace_id": gone}), ("compare_with_previous_run", {"trace_id": gone}),
                          ("compare_traces", {"a": gone, "b": a.main})]:
            r = await self.call(tool, arg)
            check(r.get("found") is False and "retention" in r["note"], f"{tool} on a missing trace says so {r}")

        # The marker secret: every tool that can show it.
        await self.call("get_trace", {"trace_id": a.marker_trace})
        await self.call("get_span", {"trace_id": a.marker_trace, "span_id": a.marker_span})
        await self.call("search_logs", {"service": "marker-svc"})
        await self.call("search_traces", {"service": "marker-svc"})
        await self.call("get_trace", {"trace_id": a.marker_trace, "fold": False})

        await self.call("get_critical_path", {"trace_id": a.marker_trace})
        await self.call("get_statistics", {"trace_id": a.marker_trace})
        await self.call("compare_traces", {"a": a.marker_prev, "b": a.marker_trace})

        # The big trace: page through its summary; each page within budget.
        pages, lines, cursor = 0, 0, None
        t0 = time.time()
        while True:
            arg = {"trace_id": a.big}
            if cursor:
                arg["cursor"] = cursor
            page = await self.call("get_trace", arg)
            pages += 1
            lines += len(page["tree"])
            cursor = page.get("nextCursor")
            if pages == 1:
                check(page["summary"]["spans"] == a.big_spans, f"big trace spans {page['summary']}")
            if not cursor:
                break
            check(page["truncated"] is True and "cursor" in page["more"], "a cut page says how to continue")
            check(pages < 500, "too many pages")
        total = int(page["treeNote"].split()[0])
        check(lines == total, f"paged {lines} of {total} tree lines")
        small = await self.call("get_trace", {"trace_id": a.big, "max_bytes": 3000, "fold": False})
        check(small["truncated"] and small["nextCursor"], "unfolded big trace is cut")
        print(f"[{self.label}] big trace: {a.big_spans} spans → {total} folded lines in {pages} pages of ≤{BUDGET} bytes ({time.time() - t0:.1f}s)")

        joined = "\n".join(self.texts)
        check(MARKER not in joined and "MARKER" not in joined, f"[{self.label}] the marker secret leaked")
        check("[REDACTED]" in joined, "masked values are shown as [REDACTED]")
        print(f"[{self.label}] {len(self.texts)} tool calls OK, no secret in {len(joined)} bytes of answers")


async def over_stdio(args, transcript):
    params = StdioServerParameters(command=args.loupe, args=["mcp", "--api", args.api], env={**os.environ, "RUST_LOG": "warn"})
    async with stdio_client(params) as (r, w):
        async with ClientSession(r, w) as s:
            init = await s.initialize()
            check(init.server_info.name == "loupe", f"server info {init.server_info}")
            check(init.capabilities.tools is not None, "tools capability")
            if transcript is not None:
                transcript.append(f"[stdio] initialize -> server {init.server_info.name} {init.server_info.version}, protocol {init.protocol_version}")
            await Run(s, "stdio", args, transcript).all()


async def over_http(args, transcript):
    async with streamable_http_client(f"{args.api}/mcp") as (r, w):
        async with ClientSession(r, w) as s:
            init = await s.initialize()
            check(init.server_info.name == "loupe", f"server info {init.server_info}")
            if transcript is not None:
                transcript.append(f"[http] initialize -> server {init.server_info.name}, protocol {init.protocol_version}")
            await Run(s, "http", args, transcript).all()


async def stdio_without_loupe(args):
    """`loupe mcp` pointed at nothing: tools say clearly that Loupe is not running."""
    params = StdioServerParameters(command=args.loupe, args=["mcp", "--api", "http://127.0.0.1:9"])
    async with stdio_client(params) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            res = await s.call_tool("list_services", {})
            text = res.content[0].text
            check(res.is_error and "no Loupe answers" in text, f"not running: {text}")
            print(f"[stdio, no Loupe] {text}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--loupe", required=True)
    p.add_argument("--api", required=True)
    p.add_argument("--otlp-http", required=True)
    p.add_argument("--main", required=True)
    p.add_argument("--linked", required=True, help="comma-separated")
    p.add_argument("--big-spans", type=int, default=20000)
    p.add_argument("--transcript", help="write a session transcript here")
    args = p.parse_args()
    args.linked = args.linked.split(",")
    args.api = args.api.rstrip("/")
    # Twice: the second run's previous run is the first (same root span).
    args.marker_prev, _ = send_marker(args.otlp_http)
    time.sleep(0.01)
    args.marker_trace, args.marker_span = send_marker(args.otlp_http)
    t0 = time.time()
    args.big, args.big_spans = send_big(args.otlp_http, args.big_spans)
    print(f"sent a {args.big_spans}-span trace in {time.time() - t0:.1f}s")
    transcript = [] if args.transcript else None
    try:
        asyncio.run(over_stdio(args, transcript))
        asyncio.run(over_http(args, transcript))
        asyncio.run(stdio_without_loupe(args))
    except Failed as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
    finally:
        if transcript is not None:
            with open(args.transcript, "w") as f:
                f.write("\n".join(transcript) + "\n")
    print("OK")


if __name__ == "__main__":
    main()
