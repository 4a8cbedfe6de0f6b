/**
 * `weft demo` (what `npm run demo` runs): a node and three pods built from
 * network namespaces, wired by the real weft CNI executable exactly as a
 * container runtime calls it, then checked with ping. Everything lives in
 * namespaces made here and is removed at the end, also on failure.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installCni } from "./install-cni.ts";
import { parseCommandArgs } from "../args.ts";
import { WeftError } from "../../lib/errors.ts";

const PODS = ["web", "api", "db"];

function sh(cmd: string[], input?: string): string {
  return execFileSync(cmd[0]!, cmd.slice(1), { encoding: "utf8", input });
}

export async function run(argv: string[]): Promise<number> {
  parseCommandArgs("demo", argv, {});
  if (process.getuid?.() !== 0) throw new WeftError("NOT_ROOT", "demo: network namespaces need root", { hint: "run as root" });
  const tag = `weftdemo${process.pid}`;
  const node = `${tag}-node`;
  const dir = mkdtempSync(join(tmpdir(), "weft-demo-"));
  const made: string[] = [];
  const say = (s: string) => process.stdout.write(`${s}\n`);
  try {
    say("== weft demo: one node, three pods, the real CNI plugin\n");
    sh(["ip", "netns", "add", node]);
    made.push(node);
    const bin = join(dir, "bin");
    installCni({ binDir: bin, confDir: join(dir, "net.d"), subnetFile: join(dir, "subnet.env"), dataDir: join(dir, "ipam") });
    const conf = JSON.stringify({ cniVersion: "1.0.0", name: "weft", type: "weft", subnetFile: join(dir, "subnet.env"), dataDir: join(dir, "ipam") });
    const plugin = (verb: string, pod: string) =>
      spawnSync("ip", ["netns", "exec", node, join(bin, "weft")], {
        input: conf,
        encoding: "utf8",
        env: { PATH: process.env.PATH, CNI_COMMAND: verb, CNI_CONTAINERID: `${tag}-${pod}`, CNI_NETNS: `/run/netns/${tag}-${pod}`, CNI_IFNAME: "eth0", CNI_PATH: bin, CNI_ARGS: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod}` },
      });

    say("1. Before the agent has leased a subnet, ADD says so (CNI error 11):");
    sh(["ip", "netns", "add", `${tag}-${PODS[0]}`]);
    made.push(`${tag}-${PODS[0]}`);
    say(`   ${plugin("ADD", PODS[0]!).stdout.trim()}\n`);

    say("2. The agent writes the node's subnet file (here by hand):");
    writeFileSync(join(dir, "subnet.env"), "WEFT_NETWORK=10.244.0.0/16\nWEFT_SUBNET=10.244.1.1/24\nWEFT_MTU=1450\nWEFT_IPMASQ=true\n");
    say("   WEFT_NETWORK=10.244.0.0/16  WEFT_SUBNET=10.244.1.1/24  WEFT_MTU=1450\n");

    say("3. The runtime calls ADD for each pod; weft answers with the pod's address:");
    const ips: string[] = [];
    for (const pod of PODS) {
      if (!made.includes(`${tag}-${pod}`)) {
        sh(["ip", "netns", "add", `${tag}-${pod}`]);
        made.push(`${tag}-${pod}`);
      }
      const r = plugin("ADD", pod);
      if (r.status !== 0) throw new WeftError("DEMO", `ADD for ${pod} failed: ${r.stdout}`);
      const ip = (JSON.parse(r.stdout) as { ips: Array<{ address: string }> }).ips[0]!.address;
      ips.push(ip.split("/")[0]!);
      say(`   ${pod.padEnd(4)} ${ip}`);
    }
    say("\n4. The node's bridge and the pods' veths (ip -br link in the node):");
    for (const l of sh(["ip", "-n", node, "-br", "link"]).trim().split("\n")) say(`   ${l}`);
    say("\n5. Pods reach each other across the bridge:");
    for (const [i, pod] of PODS.entries()) {
      const to = ips[(i + 1) % ips.length]!;
      const ok = spawnSync("ip", ["netns", "exec", `${tag}-${pod}`, "ping", "-c1", "-W2", to]).status === 0;
      say(`   ${pod} -> ${to}: ${ok ? "ok" : "FAILED"}`);
      if (!ok) throw new WeftError("DEMO", `${pod} cannot reach ${to}`);
    }
    say("\n6. DEL releases the addresses; a repeated DEL is still a success:");
    for (const pod of PODS) say(`   DEL ${pod}: ${plugin("DEL", pod).status === 0 && plugin("DEL", pod).status === 0 ? "ok (twice)" : "FAILED"}`);
    say("\nNext: read README.md, then try `bin/weft install-cni --help`.");
    return 0;
  } finally {
    for (const ns of made.reverse()) spawnSync("ip", ["netns", "del", ns]);
    rmSync(dir, { recursive: true, force: true });
  }
}
