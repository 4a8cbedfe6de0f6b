/**
 * What an image means in the lab, which pulls none. A container's root is
 * the machine's own filesystem (copy-on-write, see launch.ts); the image
 * name only chooses what is added on top and what runs when the pod gives
 * no `command`:
 *
 *   busybox   busybox's applets first in PATH (sh, wget, nc, nslookup, ...
 *             are busybox's); entrypoint sh. The executable is Debian 13's
 *             busybox-static, which scripts/busybox.sh fetches (Debian 12's
 *             has no wget timeout: `wget -T 1` crashes); without it,
 *             Debian 12's, with a warning in the kubelet's log
 *   agnhost   the agnhost binary built with the pinned Kubernetes release, at
 *             /agnhost as in the upstream image; entrypoint /agnhost
 *   weft      this checkout's bin/ first in PATH; entrypoint weft
 *   alpine, ubuntu, debian, netshoot, busyboxplus
 *             the machine's own programs, as for any other image; without a
 *             command or args, the image's shell (WELL_KNOWN_IMAGES), so
 *             `kubectl run -it --rm debug --image=nicolaka/netshoot` gives a
 *             shell with the machine's network tools
 *   anything else
 *             with a command (or only args): that on the machine's filesystem;
 *             without one: the built-in port server (port-server.ts), which
 *             answers on every declared containerPort, TCP and UDP, with the
 *             pod's name and the client address it sees; a few well-known
 *             web images that declare no port answer on the one their
 *             image listens on (WELL_KNOWN_IMAGES: `kubectl create deployment
 *             nginx --image=nginx` declares none, and a Service in front of
 *             it still reaches 80); for the two whose entrypoint is the
 *             server (http-echo, whoami) also when given args only, which
 *             are its flags
 *
 * An image is matched by its last path segment without tag or digest, so
 * `registry.k8s.io/e2e-test-images/agnhost:2.53` is agnhost and
 * `docker.io/library/busybox:1.36` is busybox.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Container } from "../../kube/pod.ts";
import { cacheRoot } from "../control/binaries.ts";

/** Where the catalog's contents are on this machine. */
export interface ImageSources {
  /** A directory with the busybox image's executable and a link to it per applet (made by the kubelet at start). */
  busyboxBin: string;
  /** The agnhost binary, or null when the Kubernetes build has none. */
  agnhost: string | null;
  /** This checkout's bin/weft. */
  weft: string;
  /** The built-in port server's compiled executable (bound into the container). */
  portServer: string;
}

/** What a container of an image runs and gets. */
export interface ImagePlan {
  argv: string[];
  /** Extra PATH directories (inside the container), first in PATH. */
  pathPrefix: string[];
  /** Host files or directories bound into the container: target path → source. */
  binds: { target: string; source: string; file: boolean }[];
  /** The image's own environment (its config's Env), which the container's env overrides. */
  env?: Record<string, string>;
}

/** The PATH a container gets when its env does not set one (the OCI default). */
export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/**
 * Where the built-in port server's executable is inside a container: bound
 * there, as agnhost is, since a volume the pod mounts over a parent of this
 * checkout (an emptyDir at /tmp or /work) would hide it at its own path.
 */
export const PORT_SERVER_IN_CONTAINER = "/.weft/port-server";
/** Where the busybox applets are inside a busybox container. */
export const BUSYBOX_BIN_IN_CONTAINER = "/.weft/busybox/bin";

/** The short name of an image: `registry/path/name:tag@digest` → `name`. */
export function imageShortName(image: string): string {
  const noDigest = image.split("@")[0]!;
  const last = noDigest.split("/").at(-1)!;
  return last.split(":")[0]!;
}

/** What a well-known image does on its own, which the lab stands in for. */
export interface ImageDefaults {
  /** The TCP ports it serves without the pod declaring them (its EXPOSE, or its documented default). */
  ports?: readonly number[];
  /** Its entrypoint is the server itself, so args alone are the server's flags (http-echo's `-text=...`), not a command. */
  serverEntrypoint?: boolean;
  /** What it runs given neither command nor args (its CMD): a shell, the machine's. */
  shell?: readonly string[];
}

/**
 * The well-known images, by short name: the web servers the Kubernetes and
 * kind guides put behind a Service or an Ingress, and the general-purpose
 * and debugging images people `kubectl run -it`. By short name only, so
 * another publisher's image of that name (bitnami/nginx serves 8080) gets
 * these too, unless the pod declares its ports. nginx's entrypoint script
 * runs args given alone (`sleep 3600`), so only http-echo and whoami take
 * them as flags; netshoot's own shell is zsh, which the machine may not have.
 */
export const WELL_KNOWN_IMAGES: Readonly<Record<string, ImageDefaults>> = {
  nginx: { ports: [80] },
  httpd: { ports: [80] },
  whoami: { ports: [80], serverEntrypoint: true },
  "hpa-example": { ports: [80] },
  echoserver: { ports: [8080] },
  "echo-server": { ports: [8080] },
  "hello-app": { ports: [8080] },
  "http-echo": { ports: [5678], serverEntrypoint: true },
  alpine: { shell: ["/bin/sh"] },
  busyboxplus: { shell: ["/bin/sh"] },
  ubuntu: { shell: ["bash"] },
  debian: { shell: ["bash"] },
  netshoot: { shell: ["bash"] },
};

/** How a container of `c.image` runs; `podName` goes to the built-in server. */
export function planImage(c: Pick<Container, "image" | "command" | "args" | "ports">, podName: string, src: ImageSources): ImagePlan {
  const name = imageShortName(c.image);
  const args = c.args ?? [];
  if (name === "busybox") {
    return {
      // The image has no entrypoint and CMD ["sh"]: args alone replace the CMD.
      argv: c.command ? [...c.command, ...args] : c.args ?? ["sh"],
      pathPrefix: [BUSYBOX_BIN_IN_CONTAINER],
      binds: [{ target: BUSYBOX_BIN_IN_CONTAINER, source: src.busyboxBin, file: false }],
    };
  }
  if (name === "agnhost" && src.agnhost !== null) {
    return { argv: c.command ? [...c.command, ...args] : ["/agnhost", ...args], pathPrefix: [], binds: [{ target: "/agnhost", source: src.agnhost, file: true }] };
  }
  if (name === "weft") {
    // bin/weft finds its checkout from its own path, and the checkout is in
    // every container's root. Like an image, the container runs the build
    // as it is: bin/weft must not rebuild it there (the root is an overlay,
    // where renaming the build directory fails with EXDEV), so the checkout
    // is rebuilt on the host (weft lab up, the tests) and read as built.
    return { argv: c.command ? [...c.command, ...args] : ["weft", ...args], pathPrefix: [dirname(src.weft)], binds: [], env: { WEFT_BUILD_FROZEN: "1" } };
  }
  if (c.command) return { argv: [...c.command, ...args], pathPrefix: [], binds: [] };
  const known = WELL_KNOWN_IMAGES[name] ?? {};
  if (known.shell && !c.args) return { argv: [...known.shell], pathPrefix: [], binds: [] };
  if (c.args && !known.serverEntrypoint) return { argv: c.args, pathPrefix: [], binds: [] };
  const declared = c.ports.filter((p) => p.protocol !== "SCTP").map((p) => `${p.containerPort}/${p.protocol.toLowerCase()}`);
  // The image's port only when the pod declares none: a declared one may be the image's, moved.
  const ports = declared.length > 0 ? declared : (known.ports ?? []).map((p) => `${p}/tcp`);
  const binds = [{ target: PORT_SERVER_IN_CONTAINER, source: src.portServer, file: true }];
  return { argv: [PORT_SERVER_IN_CONTAINER, "--pod", podName, ...ports.flatMap((p) => ["--port", p])], pathPrefix: [], binds };
}

/** The busybox the busybox image runs (scripts/busybox.sh puts it there), or null when it has not been fetched. */
export function imageBusybox(env: NodeJS.ProcessEnv = process.env): string | null {
  const path = join(cacheRoot(env), "busybox", "bin", "busybox");
  return existsSync(path) ? path : null;
}

/** The busybox applet directory of a kubelet under its root dir. */
export function busyboxBinDir(rootDir: string): string {
  return join(rootDir, "images", "busybox", "bin");
}
