/**
 * A hand-made AgentStatus for tests of what reads one (metrics, the API,
 * `weft status`): node1 on 10.244.1.0/24 over vxlan, one programmed peer
 * (node2), one refused (node3) and a stale route that would not go.
 */
import { Histogram, type HistogramSnapshot } from "../../src/metrics/histogram.ts";
import { RECONCILE_BUCKETS } from "../../src/agent/metrics.ts";
import type { AgentStatus } from "../../src/agent/status.ts";

/** The fixed time the sample was "taken" (2025-01-01T00:00:00Z). */
export const SAMPLE_NOW = Date.UTC(2025, 0, 1);

/** The sample status, with `over` replacing top-level fields. */
export function sampleStatus(over: Partial<AgentStatus> = {}): AgentStatus {
  return {
    node: "node1",
    version: "0.1.0",
    pid: 4242,
    startedAt: "2024-12-31T23:00:00.000Z",
    ready: true,
    readiness: { lease: true, backend: true, subnetFile: true },
    network: "10.244.0.0/16",
    subnet: "10.244.1.0/24",
    gateway: "10.244.1.1",
    publicIp: "192.168.125.101",
    underlay: { name: "eth0", mtu: 1500 },
    mtu: 1450,
    backend: "vxlan",
    backendData: { vtepMac: "0a:58:0a:f4:01:00" },
    ipMasq: true,
    leaseExpiresAt: SAMPLE_NOW + (23 * 60 + 59) * 60_000 + 30_000,
    store: { name: "embedded", location: "/var/lib/weft/store", healthy: true, lastError: null },
    peers: [
      {
        node: "node2",
        publicIp: "192.168.125.102",
        subnet: "10.244.2.0/24",
        backend: "vxlan",
        backendData: { vtepMac: "0a:58:0a:f4:02:00" },
        leaseExpiresAt: SAMPLE_NOW + 86_400_000,
        state: "programmed",
      },
      {
        node: "node3",
        publicIp: "10.99.0.5",
        subnet: "10.244.3.0/24",
        backend: "vxlan",
        backendData: {},
        leaseExpiresAt: SAMPLE_NOW + 86_400_000,
        state: "problem",
        problem: { peer: "node3", code: "PEER_INVALID", message: "its vtepMac is missing; restart its agent" },
      },
    ],
    reconcile: {
      runs: 3,
      failures: 1,
      problems: 2,
      lastAt: "2024-12-31T23:59:30.000Z",
      lastDurationMs: 12,
      lastProblems: [
        { peer: "node3", code: "PEER_INVALID", message: "its vtepMac is missing; restart its agent" },
        { peer: "route 10.244.9.0/24", code: "KERNEL_REJECTED", message: "the kernel kept it: RTNETLINK answers: Operation not permitted" },
      ],
      duration: observed([0.004, 0.012, 0.3]),
    },
    paths: {
      runDir: "/run/weft",
      stateDir: "/var/lib/weft",
      subnetFile: "/run/weft/subnet.env",
      socket: "/run/weft/agent.sock",
      ipamDir: "/var/lib/weft/ipam",
    },
    ...over,
  };
}

/** The reconcile histogram after observing `seconds`. */
export function observed(seconds: readonly number[]): HistogramSnapshot {
  const h = new Histogram(RECONCILE_BUCKETS);
  for (const s of seconds) h.observe(s);
  return h.snapshot();
}
