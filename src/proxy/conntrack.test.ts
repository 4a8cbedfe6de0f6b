import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { conntrackDeleteArgv, deleteStaleFlows, parseUdpEntries, staleListedFlows, staleUdpFlows } from "./conntrack.ts";
import type { PortPlan } from "./plan.ts";
import { FakeRunner } from "../kernel/fake-runner.ts";

const port = (id: string, protocol: PortPlan["protocol"], endpoints: string[], destinations = ["10.96.0.10:53", "*:30053"]): PortPlan => ({
  id, protocol, destinations, endpoints, localEndpoints: [], internal: endpoints.length ? "forward" : "reject", external: "none",
});

describe("staleUdpFlows", () => {
  const cases: { name: string; before: PortPlan[]; after: PortPlan[]; want: string[][] }[] = [
    { name: "unchanged", before: [port("a", "UDP", ["10.244.1.5:53"])], after: [port("a", "UDP", ["10.244.1.5:53"])], want: [] },
    {
      name: "a removed UDP endpoint: its NATed entries, on every destination",
      before: [port("a", "UDP", ["10.244.1.5:53", "10.244.1.6:53"])],
      after: [port("a", "UDP", ["10.244.1.6:53"])],
      want: [
        ["conntrack", "-D", "-p", "udp", "--orig-port-dst", "53", "--orig-dst", "10.96.0.10", "--reply-src", "10.244.1.5", "--reply-port-src", "53"],
        ["conntrack", "-D", "-p", "udp", "--orig-port-dst", "30053", "--reply-src", "10.244.1.5", "--reply-port-src", "53"],
      ],
    },
    {
      name: "first endpoint of a black-holed port: its un-NATed entries",
      before: [port("a", "UDP", [])],
      after: [port("a", "UDP", ["10.244.1.5:53"])],
      want: [
        ["conntrack", "-D", "-p", "udp", "--orig-port-dst", "53", "--orig-dst", "10.96.0.10", "--reply-src", "10.96.0.10"],
        ["conntrack", "-D", "-p", "udp", "--orig-port-dst", "30053", "--reply-port-src", "30053"],
      ],
    },
    { name: "a new service counts as having had none", before: [], after: [port("a", "UDP", ["10.244.1.5:53"], ["10.96.0.10:53"])], want: [["conntrack", "-D", "-p", "udp", "--orig-port-dst", "53", "--orig-dst", "10.96.0.10", "--reply-src", "10.96.0.10"]] },
    { name: "TCP is left alone (a reset ends it)", before: [port("a", "TCP", ["10.244.1.5:53"])], after: [port("a", "TCP", [])], want: [] },
  ];
  for (const c of cases) {
    test(c.name, () => assert.deepEqual(staleUdpFlows(c.before, c.after).map(conntrackDeleteArgv), c.want));
  }
});

describe("deleteStaleFlows", () => {
  test("counts deleted entries; nothing to delete is no error; a failure is reported, not thrown", async () => {
    let n = 0;
    const runner = new FakeRunner(() => {
      n++;
      if (n === 1) return { code: 0, stderr: "conntrack v1.4.7 (conntrack-tools): 2 flow entries have been deleted.\n" };
      if (n === 2) return { code: 1, stderr: "conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n" };
      return { code: 1, stderr: "conntrack: Operation not permitted" };
    });
    const r = await deleteStaleFlows(runner, [{ port: 1 }, { port: 2 }, { port: 3 }]);
    assert.equal(r.deleted, 2);
    assert.equal(r.errors.length, 1);
    assert.match(r.errors[0]!, /Operation not permitted/);
  });
});

describe("staleListedFlows (full sync)", () => {
  const listing = [
    "udp      17 29 src=10.244.1.2 dst=10.96.0.10 sport=40000 dport=53 [UNREPLIED] src=10.96.0.10 dst=10.244.1.2 sport=53 dport=40000 mark=0 use=1",
    "udp      17 29 src=10.244.1.2 dst=10.96.0.10 sport=40001 dport=53 src=10.244.1.5 dst=10.244.1.2 sport=53 dport=40001 mark=0 use=1",
    "udp      17 29 src=10.244.1.2 dst=10.96.0.10 sport=40002 dport=53 src=10.244.1.9 dst=10.244.1.2 sport=53 dport=40002 mark=0 use=1",
    "udp      17 29 src=10.244.1.2 dst=8.8.8.8 sport=40003 dport=53 [UNREPLIED] src=8.8.8.8 dst=10.244.1.2 sport=53 dport=40003 mark=0 use=1",
    "garbage",
  ].join("\n");

  test("parses the default text format", () => {
    const e = parseUdpEntries(listing);
    assert.equal(e.length, 4);
    assert.deepEqual(e[0], { src: "10.244.1.2", dst: "10.96.0.10", sport: 40000, dport: 53, replySrc: "10.96.0.10", replySport: 53 });
  });

  test("un-NATed entries and entries to a former endpoint go; current endpoints and other destinations stay", () => {
    const flows = staleListedFlows(parseUdpEntries(listing), [port("dns", "UDP", ["10.244.1.5:53"], ["10.96.0.10:53", "*:30053"])]);
    assert.deepEqual(flows.map(conntrackDeleteArgv), [
      ["conntrack", "-D", "-p", "udp", "--orig-port-dst", "53", "--orig-dst", "10.96.0.10", "--orig-src", "10.244.1.2", "--orig-port-src", "40000"],
      ["conntrack", "-D", "-p", "udp", "--orig-port-dst", "53", "--orig-dst", "10.96.0.10", "--orig-src", "10.244.1.2", "--orig-port-src", "40002"],
    ]);
  });

  test("a port without endpoints keeps its entries (nothing better to send them to)", () => {
    assert.deepEqual(staleListedFlows(parseUdpEntries(listing), [port("dns", "UDP", [])]), []);
  });
});
