/**
 * A real container engine from Debian on a weft network: Podman 4 with its
 * CNI backend loads the weft conflist through libcni (ValidateNetworkList
 * first, as on every load), then runs two containers that reach each other.
 *
 * Podman runs entered into a node namespace of the test's own with
 * `nsenter --net` (not `ip netns exec`, whose private /sys has no cgroup
 * hierarchy for the OCI runtime). Its storage, run state and configuration
 * are in a temporary directory; the containers' root file system is a
 * directory holding Debian's busybox-static, so no image is pulled. runc is
 * the OCI runtime because crun refuses hosts with a hybrid cgroup layout.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installCni } from "../../src/cli/commands/install-cni.ts";
import { storedAllocations } from "../support/ipam-store.ts";
import { ipIn, Namespaces } from "../support/netns.ts";

const BUSYBOX = "/bin/busybox";

describe("Podman runs containers on a weft network", () => {
  const ns = new Namespaces("wpm");
  const dir = mkdtempSync(join(tmpdir(), "weft-podman-"));
  const rootfs = join(dir, "rootfs");
  let node = "";

  const podman = (...args: string[]) =>
    spawnSync("nsenter", [`--net=/run/netns/${node}`, "podman", "--runtime", "runc", "--root", join(dir, "storage"), "--runroot", join(dir, "run"), "--storage-driver", "vfs", ...args], {
      encoding: "utf8",
      env: { ...process.env, CONTAINERS_CONF: join(dir, "containers.conf") },
      timeout: 60_000,
    });
  /** `podman run` of `command` on the weft network, with limits this host's hard limits allow (Podman's defaults exceed them). */
  const run = (how: string[], ...command: string[]) =>
    podman("run", ...how, "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--network", "weft", "--rootfs", rootfs, ...command);

  before(() => {
    node = ns.add("node");
    installCni({ binDir: join(dir, "bin"), confDir: join(dir, "net.d"), subnetFile: join(dir, "subnet.env"), dataDir: join(dir, "ipam") });
    writeFileSync(join(dir, "subnet.env"), "WEFT_NETWORK=10.244.0.0/16\nWEFT_SUBNET=10.244.5.1/24\nWEFT_MTU=1450\nWEFT_IPMASQ=true\n");
    writeFileSync(
      join(dir, "containers.conf"),
      [
        "[network]",
        'network_backend = "cni"',
        `cni_plugin_dirs = ["${join(dir, "bin")}", "/usr/lib/cni"]`,
        `network_config_dir = "${join(dir, "net.d")}"`,
        "[engine]",
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `tmp_dir = "${join(dir, "tmp")}"`,
        "",
      ].join("\n"),
    );
    mkdirSync(join(rootfs, "bin"), { recursive: true });
    mkdirSync(join(rootfs, "www"));
    copyFileSync(BUSYBOX, join(rootfs, "bin/busybox"));
    for (const applet of ["sh", "httpd", "wget", "ip"]) symlinkSync("busybox", join(rootfs, "bin", applet));
    writeFileSync(join(rootfs, "www/index.html"), "hello from the server container\n");
  });
  after(() => {
    podman("rm", "--force", "--all", "--time", "0");
    ns.removeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test("Podman loads the weft network without a validation error", () => {
    const r = podman("network", "ls", "--format", "{{.Name}} {{.Driver}}");
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /Error validating CNI config/);
    assert.match(r.stdout, /^weft weft$/m);
  });

  test("two containers on the weft network reach each other", () => {
    const server = run(["--detach", "--name", "server"], "/bin/httpd", "-f", "-p", "8080", "-h", "/www");
    assert.equal(server.status, 0, server.stderr);
    const ip = podman("inspect", "server", "--format", "{{.NetworkSettings.Networks.weft.IPAddress}}").stdout.trim();
    assert.match(ip, /^10\.244\.5\.\d+$/);
    const client = run(["--rm"], "/bin/sh", "-c", `ip -4 -o addr show eth0; wget -qO- http://${ip}:8080/`);
    assert.equal(client.status, 0, client.stderr);
    assert.match(client.stdout, /eth0\s+inet 10\.244\.5\.\d+\/24/);
    assert.match(client.stdout, /hello from the server container/);
    // The host ends of both veths were on the node's bridge; the client's is gone.
    assert.equal(storedAllocations(join(dir, "ipam")).length, 1, "the removed client's address was released");
    assert.match(ipIn(node, "-br", "link", "show", "master", "weft0"), /^veth/m);
  });
});
