/**
 * CoreDNS, the reference cluster DNS, built from its Go module at a pinned
 * release with `go install` and kept outside the checkout
 * (/var/cache/weft/coredns/<version>/coredns), so one build serves every
 * later run. Returns the binary, or the reason it could not be built.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";

export const COREDNS_VERSION = "v1.14.7";
const CACHE = "/var/cache/weft/coredns";

export function corednsBinary(): { bin: string } | { error: string } {
  const dir = join(CACHE, COREDNS_VERSION);
  const bin = join(dir, "coredns");
  if (existsSync(bin)) return { bin };
  const go = spawnSync("sh", [resolve(import.meta.dirname, "../scripts/go-path.sh")], { encoding: "utf8" });
  if (go.status !== 0) return { error: go.stderr.trim() || "no Go toolchain" };
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`bench: building CoreDNS ${COREDNS_VERSION} from its Go module into ${dir} (once; several minutes)\n`);
  const r = spawnSync(go.stdout.trim(), ["install", `github.com/coredns/coredns@${COREDNS_VERSION}`], {
    env: { ...process.env, GOBIN: dir, GOFLAGS: "-mod=mod" },
    encoding: "utf8",
    stdio: ["ignore", "inherit", "pipe"],
  });
  if (r.status !== 0 || !existsSync(bin)) return { error: `go install github.com/coredns/coredns@${COREDNS_VERSION} failed: ${(r.stderr ?? "").trim().split("\n").slice(-3).join("; ")}` };
  return { bin };
}
