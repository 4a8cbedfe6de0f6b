import { test } from "node:test";
import assert from "node:assert/strict";
import { sampleStatus } from "../../test/support/agent-status.ts";
import { Histogram } from "../metrics/histogram.ts";
import { METRICS_CONTENT_TYPE, RECONCILE_BUCKETS, renderMetrics } from "./metrics.ts";

const usage = { subnet: "10.244.1.0/24", capacity: 253, used: 2, free: 251, pods: [] };

/** The sample lines (not comments) of a rendering. */
const samples = (text: string) => text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));

test("every family has HELP and TYPE before its samples, and the text ends in a newline", () => {
  const text = renderMetrics(sampleStatus(), usage);
  assert.ok(text.endsWith("\n"));
  const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
  assert.deepEqual(Object.fromEntries(types), {
    weft_ready: "gauge",
    weft_peers: "gauge",
    weft_peer_info: "gauge",
    weft_lease_expiry_timestamp_seconds: "gauge",
    weft_store_healthy: "gauge",
    weft_reconcile_total: "counter",
    weft_reconcile_failures_total: "counter",
    weft_reconcile_problems_total: "counter",
    weft_reconcile_duration_seconds: "histogram",
    weft_ipam_addresses: "gauge",
    weft_ipam_capacity: "gauge",
  });
  for (const name of types.keys()) assert.match(text, new RegExp(`^# HELP ${name} \\S.*\\n# TYPE ${name} `, "m"));
  for (const line of samples(text)) assert.match(line, /^weft_[a-z_]+(\{[^}]*\})? -?[\d.e+-]+$/, line);
  assert.equal(METRICS_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
});

test("the gauges and counters carry the status' numbers", () => {
  const lines = samples(renderMetrics(sampleStatus(), usage));
  for (const expected of [
    "weft_ready 1",
    'weft_peers{state="programmed"} 1',
    'weft_peers{state="problem"} 1',
    'weft_peer_info{node="node2",public_ip="192.168.125.102",subnet="10.244.2.0/24",backend="vxlan"} 1',
    'weft_peer_info{node="node3",public_ip="10.99.0.5",subnet="10.244.3.0/24",backend="vxlan"} 1',
    "weft_lease_expiry_timestamp_seconds 1735775970",
    "weft_store_healthy 1",
    "weft_reconcile_total 3",
    "weft_reconcile_failures_total 1",
    "weft_reconcile_problems_total 2",
    'weft_ipam_addresses{state="used"} 2',
    'weft_ipam_addresses{state="free"} 251',
    "weft_ipam_capacity 253",
  ]) {
    assert.ok(lines.includes(expected), `missing: ${expected}`);
  }
});

test("the duration histogram is cumulative, ends in +Inf, and has _sum and _count", () => {
  const lines = samples(renderMetrics(sampleStatus(), usage)).filter((l) => l.startsWith("weft_reconcile_duration_seconds"));
  assert.deepEqual(lines, [
    'weft_reconcile_duration_seconds_bucket{le="0.005"} 1',
    'weft_reconcile_duration_seconds_bucket{le="0.01"} 1',
    'weft_reconcile_duration_seconds_bucket{le="0.025"} 2',
    'weft_reconcile_duration_seconds_bucket{le="0.05"} 2',
    'weft_reconcile_duration_seconds_bucket{le="0.1"} 2',
    'weft_reconcile_duration_seconds_bucket{le="0.25"} 2',
    'weft_reconcile_duration_seconds_bucket{le="0.5"} 3',
    'weft_reconcile_duration_seconds_bucket{le="1"} 3',
    'weft_reconcile_duration_seconds_bucket{le="2.5"} 3',
    'weft_reconcile_duration_seconds_bucket{le="5"} 3',
    'weft_reconcile_duration_seconds_bucket{le="10"} 3',
    'weft_reconcile_duration_seconds_bucket{le="+Inf"} 3',
    "weft_reconcile_duration_seconds_sum 0.316",
    "weft_reconcile_duration_seconds_count 3",
  ]);
  assert.equal(RECONCILE_BUCKETS.length + 1, lines.filter((l) => l.includes("_bucket")).length);
  const empty = samples(renderMetrics(sampleStatus({ reconcile: { ...sampleStatus().reconcile, duration: new Histogram(RECONCILE_BUCKETS).snapshot() } }), usage));
  assert.ok(empty.includes('weft_reconcile_duration_seconds_bucket{le="+Inf"} 0'));
  assert.ok(empty.includes("weft_reconcile_duration_seconds_count 0"));
});

test("label values escape backslash, double quote and line feed", () => {
  const peer = { ...sampleStatus().peers[0]!, node: 'we"ird\\node\nx' };
  const text = renderMetrics(sampleStatus({ peers: [peer] }), usage);
  assert.ok(text.includes('weft_peer_info{node="we\\"ird\\\\node\\nx",'), text);
});

test("what is not known yet is left out, not reported as zero", () => {
  const text = renderMetrics(
    sampleStatus({ ready: false, subnet: null, leaseExpiresAt: null, peers: [], store: { ...sampleStatus().store, healthy: false } }),
    null,
  );
  assert.doesNotMatch(text, /weft_lease_expiry|weft_ipam|weft_peer_info/);
  const lines = samples(text);
  for (const l of ["weft_ready 0", "weft_store_healthy 0", 'weft_peers{state="programmed"} 0', 'weft_peers{state="problem"} 0']) assert.ok(lines.includes(l), l);
});
