/**
 * The installed plugin is self-contained: it runs where there is no Node.js
 * and no checkout. A private mount namespace hides both (the host's mounts
 * are untouched), then the plugin answers VERSION and does a real ADD/DEL.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { installCni } from "../../src/cli/commands/install-cni.ts";
import { Namespaces } from "../support/netns.ts";

const root = resolve(import.meta.dirname, "../..");
const ns = new Namespaces("wcx");
const dir = mkdtempSync(join(tmpdir(), "weft-standalone-"));
after(() => {
  ns.removeAll();
  rmSync(dir, { recursive: true, force: true });
});

test("the installed executable runs with Node.js and the checkout hidden", () => {
  const node = ns.add("node");
  const pod = ns.add("pod");
  const bin = join(dir, "bin");
  installCni({ binDir: bin });
  writeFileSync(join(dir, "subnet.env"), "WEFT_NETWORK=10.244.0.0/16\nWEFT_SUBNET=10.244.5.1/24\nWEFT_MTU=1450\nWEFT_IPMASQ=true\n");
  writeFileSync(join(dir, "conf.json"), JSON.stringify({ cniVersion: "1.0.0", name: "weft", type: "weft", subnetFile: join(dir, "subnet.env"), dataDir: join(dir, "ipam") }));
  const nodeDirs = new Set([dirname(process.execPath), "/usr/bin/node", "/usr/local/bin/node"].filter((p) => p !== "/usr/bin"));
  const hide = [...nodeDirs].map((p) => `[ -e ${p} ] && mount --bind /dev/null ${p} 2>/dev/null || mount -t tmpfs none ${p} 2>/dev/null;`).join(" ");
  const script = `
    mount -t tmpfs none ${root} || exit 90
    ${hide}
    command -v node >/dev/null && node -v >/dev/null 2>&1 && { echo "node still visible"; exit 91; }
    export CNI_PATH=${bin} CNI_CONTAINERID=standalone CNI_NETNS=/run/netns/${pod} CNI_IFNAME=eth0
    CNI_COMMAND=VERSION ${bin}/weft < ${dir}/conf.json; echo
    CNI_COMMAND=ADD ip netns exec ${node} ${bin}/weft < ${dir}/conf.json; echo
    CNI_COMMAND=DEL ip netns exec ${node} ${bin}/weft < ${dir}/conf.json; echo "del=$?"`;
  const r = spawnSync("unshare", ["--mount", "--propagation", "private", "sh", "-c", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const [version, add, del] = r.stdout.trim().split("\n");
  assert.match(version!, /"supportedVersions":\["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"\]/);
  assert.match(add!, /"address":"10\.244\.5\.\d+\/24"/);
  assert.equal(del, "del=0");
});
