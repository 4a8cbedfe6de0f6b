/**
 * weft's container image (`npm run image`, scripts/image.ts) under a real
 * OCI runtime: Podman loads the archive into a storage of the test's own,
 * then runs the image's `install-cni` and agent the way the DaemonSet does:
 * host directories mounted for /opt/cni/bin, /etc/cni/net.d, /run/weft and
 * /var/lib/weft; the agent in a node namespace of the test's own (as
 * hostNetwork puts it in the node's), with NET_ADMIN and NET_RAW and no
 * other capability, not privileged.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { imageRef } from "../../src/lib/image.ts";
import { ROOT } from "../../src/lib/root.ts";
import { VERSION } from "../../src/lib/version.ts";
import { until } from "../support/until.ts";
import { ipIn, Namespaces, runIn } from "../support/netns.ts";

const ARCHIVE = join(ROOT, "build/weft-image.oci.tar");

describe("the weft image runs install-cni and the agent as the DaemonSet does", { timeout: 600_000 }, () => {
  const ns = new Namespaces("wimg");
  const dir = mkdtempSync(join(tmpdir(), "weft-image-"));
  const host = (p: string) => join(dir, "host", p);
  let node = "";

  const podman = (...args: string[]) =>
    spawnSync("podman", ["--runtime", "runc", "--root", join(dir, "storage"), "--runroot", join(dir, "run"), "--storage-driver", "vfs", ...args], { encoding: "utf8", timeout: 300_000 });
  /** `podman run` of the image, with limits this host's hard limits allow and the DaemonSet's mounts. */
  const run = (...args: string[]) =>
    podman(
      "run", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
      "-v", `${host("opt/cni/bin")}:/host/opt/cni/bin`, "-v", `${host("etc/cni/net.d")}:/host/etc/cni/net.d`,
      "-v", `${host("run/weft")}:/run/weft`, "-v", `${host("var/lib/weft")}:/var/lib/weft`,
      ...args,
    );
  /** The agent container: `how` are podman's flags, `args` the agent's. */
  const agentIn = (how: string[], ...args: string[]) =>
    run(...how, "--network", `ns:/run/netns/${node}`, "--cap-drop", "ALL", "--cap-add", "NET_ADMIN,NET_RAW", imageRef(), "agent", "--node-name", "img1", ...args);

  before(() => {
    // The same command as `npm run image`, which skips what is up to date.
    const build = spawnSync("sh", [join(ROOT, "scripts/node.sh"), "--disable-warning=ExperimentalWarning", join(ROOT, "scripts/image.ts")], { encoding: "utf8" });
    assert.equal(build.status, 0, build.stderr);
    for (const p of ["opt/cni/bin", "etc/cni/net.d", "run/weft", "var/lib/weft"]) mkdirSync(host(p), { recursive: true });
    node = ns.add("node");
    const peer = ns.add("peer");
    ipIn(node, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", peer);
    ipIn(node, "addr", "add", "192.168.77.5/24", "dev", "eth0");
    ipIn(node, "link", "set", "eth0", "up");
    ipIn(node, "route", "add", "default", "via", "192.168.77.1");
    // What kubeadm's pre-flight checks demand of a node; the container cannot write /proc/sys.
    runIn(node, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  });
  after(() => {
    podman("rm", "--force", "--all", "--time", "0");
    ns.removeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the archive loads as the reference deploy/weft.yaml names", () => {
    assert.ok(existsSync(ARCHIVE));
    const load = podman("load", "-i", ARCHIVE);
    assert.equal(load.status, 0, load.stderr);
    assert.match(load.stdout, new RegExp(`Loaded image: ${imageRef().replaceAll(".", "\\.")}`));
    assert.match(readFileSync(join(ROOT, "deploy/weft.yaml"), "utf8"), new RegExp(`image: ${imageRef().replaceAll(".", "\\.")}\\n`));
    const version = run("--rm", "--network", "none", imageRef(), "version");
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout, new RegExp(`^weft ${VERSION.replaceAll(".", "\\.")} \\(commit [0-9a-f]{12}(-dirty)?, Node\\.js 24\\.`));
  });

  test("install-cni writes the plugin and the conflist into the host's directories", () => {
    const r = run("--rm", "--network", "none", imageRef(), "install-cni", "--bin-dir", "/host/opt/cni/bin", "--conf-dir", "/host/etc/cni/net.d");
    assert.equal(r.status, 0, r.stderr);
    const plugin = spawnSync(host("opt/cni/bin/weft"), [], { env: { CNI_COMMAND: "VERSION" }, encoding: "utf8" });
    assert.equal(plugin.status, 0, plugin.stderr);
    assert.ok(JSON.parse(plugin.stdout).supportedVersions.includes("1.1.0"));
    assert.equal(JSON.parse(readFileSync(host("etc/cni/net.d/10-weft.conflist"), "utf8")).name, "weft");
  });

  test("the agent leases a subnet, programs the node and writes the subnet file with NET_ADMIN and NET_RAW alone", async () => {
    const agent = agentIn(["--detach", "--name", "agent"]);
    assert.equal(agent.status, 0, agent.stderr);
    await until("the agent's subnet file", () => existsSync(host("run/weft/subnet.env")), 30_000, 100);
    assert.match(readFileSync(host("run/weft/subnet.env"), "utf8"), /^WEFT_SUBNET=10\.244\.\d+\.1\/24$/m);
    assert.match(ipIn(node, "-d", "link", "show", "weft.1"), /vxlan id 1 .*dstport 8472/);
    assert.match(runIn(node, ["nft", "list", "table", "ip", "weft"]).stdout, /masquerade/);
    const logs = podman("logs", "agent");
    assert.match(logs.stdout + logs.stderr, /underlay eth0 192\.168\.77\.5/);
    podman("stop", "--time", "5", "agent");
    const cleanup = agentIn(["--rm"], "--cleanup");
    assert.equal(cleanup.status, 0, cleanup.stderr);
    assert.doesNotMatch(ipIn(node, "link"), /weft\.1/);
    assert.ok(!existsSync(host("run/weft/subnet.env")));
  });
});
