/**
 * `npm run image`: builds weft's container image as an OCI archive,
 * build/weft-image.oci.tar, with no container daemon and no registry:
 *
 *   layer 1  a minimal Debian (debootstrap --variant=minbase) with the tools
 *            the agent drives: ip and bridge (iproute2), nft, sysctl
 *            (procps), conntrack, ping (for `weft status connections`). Cached under /var/cache/weft/image by the
 *            package list, so it is made once per machine (about 2 minutes).
 *   layer 2  weft itself: Node.js (the one scripts/setup.sh chose), the CLI
 *            and agent bundles and the CNI plugin executable under
 *            /opt/weft, and /usr/local/bin/weft.
 *
 * The image is named IMAGE_NAME:<package version> (src/lib/image.ts), the
 * name deploy/weft.yaml refers to. Load it where the cluster's runtime can
 * see it: `podman load -i build/weft-image.oci.tar`, or
 * `ctr -n k8s.io images import build/weft-image.oci.tar` on a containerd node.
 *
 * Layers are tarred with sorted names, zero mtimes and numeric root owners,
 * and gzipped without a timestamp, so the same inputs give the same digests.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, cpSync, createReadStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { imageRef } from "../src/lib/image.ts";
import { VERSION } from "../src/lib/version.ts";
import { root } from "./build-tools.ts";

/** The Debian packages of the base layer, beyond minbase. */
const PACKAGES = ["iproute2", "nftables", "procps", "conntrack", "iputils-ping"];
const SUITE = "bookworm";
const MIRROR = "http://deb.debian.org/debian";
const CACHE = process.env.WEFT_CACHE ?? "/var/cache/weft";
const OUT = join(root, "build/weft-image.oci.tar");
/** What the base layer leaves out: package caches, docs and translations nobody reads in a container. */
const PRUNE = ["var/cache/apt", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale"];

function fail(msg: string): never {
  process.stderr.write(`image: ${msg}\n`);
  process.exit(1);
}

function run(argv: string[], what: string): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) fail(`${what} failed (${argv.join(" ")}): ${(r.stderr || r.stdout || String(r.error)).trim().split("\n").slice(-3).join(" | ")}`);
  return r.stdout;
}

function sha256File(path: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash("sha256");
    createReadStream(path).on("data", (d) => h.update(d)).on("end", () => res(h.digest("hex"))).on("error", rej);
  });
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** A gzipped, reproducible tar of everything under `dir`, written to `out`; returns its blob descriptor and the tar's diff ID. */
async function layer(dir: string, out: string): Promise<{ digest: string; size: number; diffId: string }> {
  const tar = `${out}.tar`;
  run(["tar", "--create", "--file", tar, "--directory", dir, "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "--xattrs", "--xattrs-include=security.capability", "."], "tar");
  const diffId = await sha256File(tar);
  run(["gzip", "-n", "-f", tar], "gzip");
  renameSync(`${tar}.gz`, out);
  return { digest: await sha256File(out), size: statSync(out).size, diffId };
}

/** The cached Debian base root file system, made with debootstrap when missing. */
function baseRootfs(): string {
  const dir = join(CACHE, "image", `debian-${SUITE}-${sha256(PACKAGES.join(",")).slice(0, 12)}`);
  // The marker sits beside the tree, not in it, so it is not in the layer.
  if (existsSync(`${dir}.complete`)) return dir;
  if (!existsSync("/usr/sbin/debootstrap")) fail("debootstrap is not installed; run scripts/setup.sh");
  process.stdout.write(`image: debootstrap ${SUITE} minbase + ${PACKAGES.join(", ")} (once per machine, about 2 minutes)\n`);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  run(["debootstrap", "--variant=minbase", `--include=${PACKAGES.join(",")}`, SUITE, tmp, MIRROR], "debootstrap (needs Debian's archive)");
  for (const p of PRUNE) {
    rmSync(join(tmp, p), { recursive: true, force: true });
    mkdirSync(join(tmp, p), { recursive: true });
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  writeFileSync(`${dir}.complete`, "");
  return dir;
}

/** weft's own layer: Node.js, the bundles, the plugin, and the `weft` command. */
function weftFiles(dir: string): void {
  for (const f of ["build/cli", "build/weft-agent.mjs", "build/weft-cni"]) {
    if (!existsSync(join(root, f))) fail(`${f} is not built; run scripts/setup.sh`);
  }
  const opt = join(dir, "opt/weft");
  mkdirSync(join(opt, "build"), { recursive: true });
  mkdirSync(join(dir, "usr/local/bin"), { recursive: true });
  // The bundles find their root by weft's package.json (src/lib/root.ts).
  writeFileSync(join(opt, "package.json"), JSON.stringify({ name: "weft", version: VERSION, type: "module", private: true }) + "\n");
  cpSync(join(root, "build/cli"), join(opt, "build/cli"), { recursive: true });
  copyFileSync(join(root, "build/weft-agent.mjs"), join(opt, "build/weft-agent.mjs"));
  copyFileSync(join(root, "build/weft-cni"), join(opt, "build/weft-cni"));
  copyFileSync(process.execPath, join(dir, "usr/local/bin/node"));
  writeFileSync(join(dir, "usr/local/bin/weft"), '#!/bin/sh\nexec /usr/local/bin/node /opt/weft/build/cli/main.mjs "$@"\n', { mode: 0o755 });
}

const started = Date.now();
const base = baseRootfs();
const inputs = [join(root, "build/cli"), join(root, "build/weft-agent.mjs"), join(root, "build/weft-cni"), import.meta.filename, `${base}.complete`, process.execPath];
if (existsSync(OUT) && inputs.every((p) => existsSync(p) && statSync(p).mtimeMs <= statSync(OUT).mtimeMs)) {
  process.stdout.write(`image: ${imageRef()} → ${OUT} is up to date\n`);
  process.exit(0);
}
const work = join(root, "build", `image.tmp-${process.pid}`);
rmSync(work, { recursive: true, force: true });
try {
  const layout = join(work, "oci");
  const blobs = join(layout, "blobs/sha256");
  mkdirSync(blobs, { recursive: true });
  const staged = join(work, "weft");
  weftFiles(staged);

  const layers = [];
  for (const [dir, name] of [[base, "base"], [staged, "weft"]] as const) {
    const file = join(work, `${name}.tar.gz`);
    const l = await layer(dir, file);
    renameSync(file, join(blobs, l.digest));
    layers.push(l);
  }
  const blob = (text: string): { digest: string; size: number } => {
    const digest = sha256(text);
    writeFileSync(join(blobs, digest), text);
    return { digest: `sha256:${digest}`, size: Buffer.byteLength(text) };
  };
  const config = blob(JSON.stringify({
    architecture: process.arch === "arm64" ? "arm64" : "amd64",
    os: "linux",
    config: {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      Entrypoint: ["/usr/local/bin/weft"],
      Cmd: ["agent"],
      Labels: { "org.opencontainers.image.title": "weft", "org.opencontainers.image.version": VERSION },
    },
    rootfs: { type: "layers", diff_ids: layers.map((l) => `sha256:${l.diffId}`) },
    history: [{ created_by: `debootstrap --variant=minbase --include=${PACKAGES.join(",")} ${SUITE}` }, { created_by: "weft scripts/image.ts" }],
  }));
  const manifest = blob(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: `sha256:${l.digest}`, size: l.size })),
  }));
  writeFileSync(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(join(layout, "index.json"), JSON.stringify({
    schemaVersion: 2,
    manifests: [{
      mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest,
      // The tag (OCI), and the full name containerd's import uses.
      annotations: { "org.opencontainers.image.ref.name": VERSION, "io.containerd.image.name": imageRef() },
    }],
  }));
  run(["tar", "--create", "--file", `${OUT}.tmp`, "--directory", layout, "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", ...readdirSync(layout)], "tar of the OCI layout");
  renameSync(`${OUT}.tmp`, OUT);
  const compressed = layers.reduce((n, l) => n + l.size, 0);
  process.stdout.write(`image: ${imageRef()} → ${OUT}\n  manifest ${manifest.digest}\n  layers ${layers.map((l) => `${(l.size / 1e6).toFixed(1)} MB`).join(" + ")} = ${(compressed / 1e6).toFixed(1)} MB compressed, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
