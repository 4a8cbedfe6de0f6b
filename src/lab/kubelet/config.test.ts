import { test } from "node:test";
import assert from "node:assert/strict";
import { labLayout } from "../layout.ts";
import { hostPathOnNode, kubeletConfig, normalizeAbsolute } from "./config.ts";

const cfg = kubeletConfig(labLayout("lab"), { name: "node2", index: 2, netns: "lab-node2", underlayIp: "192.168.125.102" }, "10.244.0.0/16");

test("hostPath volumes land in the node's own directories", () => {
  for (const [path, want] of [
    ["/etc/cni/net.d", "/run/weft/lab/lab/node2/cni/net.d"],
    ["/opt/cni/bin/", "/run/weft/lab/lab/node2/cni/bin"],
    ["/run/weft/subnet.env", "/run/weft/lab/lab/node2/run/subnet.env"],
    ["/var/lib/weft", "/run/weft/lab/lab/node2/lib"],
    ["/var/log", "/run/weft/lab/lab/node2/host/var/log"],
    ["/etc/../../etc/cni-other", "/run/weft/lab/lab/node2/host/etc/cni-other"],
    ["/", "/run/weft/lab/lab/node2/host"],
  ]) assert.equal(hostPathOnNode(cfg, path!), want, path);
});

test("normalizeAbsolute never climbs above /", () => {
  assert.equal(normalizeAbsolute("/a/./b//../c"), "/a/c");
  assert.equal(normalizeAbsolute("../../x"), "/x");
});
