/**
 * Pod IP allocation inside the node subnet, stored on disk.
 *
 * Layout, in `dataDir/<network name>/` (default `/var/lib/weft/ipam/weft/`):
 *
 *     lock               empty; flock(2)ed exclusively around every change
 *     allocations.json   {"version":1,"last":"10.244.1.7",
 *                         "allocations":{"10.244.1.7":{"containerId":"…","ifname":"eth0","pod":"default/web"}}}
 *
 * allocations.json is replaced atomically (write a temporary file, rename),
 * so a crash leaves either the old or the new file, never half of one; the
 * lock makes read-modify-write safe across any number of plugin processes.
 * `last` is where the next search starts, so a released address is not
 * handed out again at once (a late packet to it reaches no stranger).
 * The network address, the gateway (the subnet's first address) and the
 * broadcast address are never handed out.
 */
import { WeftError } from "../lib/errors.ts";
import { contains, formatIp, formatPrefix, lastOf, parseIp, type Prefix } from "../lib/ipv4.ts";
import type { Files } from "../sys/files.ts";

/** Who holds an address. */
export interface Owner {
  containerId: string;
  ifname: string;
  /** "namespace/name" of the pod, from CNI_ARGS, when the runtime gives it. */
  pod?: string;
}

interface State {
  version: 1;
  last?: string;
  allocations: Record<string, Owner>;
}

/** Takes an exclusive lock on `path` (creating it) and returns the release function. */
export type Locker = (path: string) => () => void;

/** Error code when the node subnet has no free address. */
export const IPAM_EXHAUSTED = "IPAM_EXHAUSTED";

export class IpamStore {
  readonly dir: string;
  readonly #files: Files;
  readonly #lock: Locker;

  /** `dataDir` (absolute) default `/var/lib/weft/ipam`; `network` is the CNI network name. */
  constructor(dataDir: string, network: string, files: Files, lock: Locker) {
    this.dir = `${dataDir.endsWith("/") ? dataDir.slice(0, -1) : dataDir}/${network}`;
    this.#files = files;
    this.#lock = lock;
  }

  /**
   * Returns the address held by (containerId, ifname), or allocates the next
   * free one in `subnet`. `fresh` says whether this call allocated it, so a
   * failed ADD releases only what it took.
   */
  allocate(subnet: Prefix, gateway: number, owner: Owner): { ip: number; fresh: boolean } {
    return this.#update((state) => {
      for (const [ip, o] of Object.entries(state.allocations)) {
        if (o.containerId === owner.containerId && o.ifname === owner.ifname && contains(subnet, parseIp(ip))) return { ip: parseIp(ip), fresh: false };
      }
      const first = subnet.base + 1;
      const last = lastOf(subnet) - 1;
      const count = last - first + 1;
      const prev = state.last === undefined ? undefined : parseIp(state.last);
      const start = prev !== undefined && prev >= first && prev <= last ? prev + 1 : first;
      for (let i = 0; i < count; i++) {
        const ip = first + ((start - first + i) % count);
        if (ip === gateway || state.allocations[formatIp(ip)]) continue;
        state.allocations[formatIp(ip)] = owner.pod ? { containerId: owner.containerId, ifname: owner.ifname, pod: owner.pod } : { containerId: owner.containerId, ifname: owner.ifname };
        state.last = formatIp(ip);
        return { ip, fresh: true };
      }
      const used = Object.keys(state.allocations).filter((ip) => contains(subnet, parseIp(ip))).length;
      throw new WeftError(IPAM_EXHAUSTED, `no free address in node subnet ${formatPrefix(subnet)}: all ${used} pod addresses are allocated (store ${this.dir})`, {
        hint: "delete pods that are gone (CNI DEL or GC), or give nodes larger subnets (agent --subnet-len)",
      });
    });
  }

  /** Releases whatever (containerId, ifname) holds; returns the released addresses. */
  release(owner: Owner): string[] {
    return this.#update((state) => this.#drop(state, (o) => o.containerId === owner.containerId && o.ifname === owner.ifname));
  }

  /** Releases every allocation not in `keep` (CNI GC); returns what it released with its owner. */
  releaseAllExcept(keep: Owner[]): Array<{ ip: string } & Owner> {
    const valid = new Set(keep.map((o) => `${o.containerId}\u0000${o.ifname}`));
    return this.#update((state) => {
      const gone = Object.entries(state.allocations).filter(([, o]) => !valid.has(`${o.containerId}\u0000${o.ifname}`));
      for (const [ip] of gone) delete state.allocations[ip];
      return gone.map(([ip, o]) => ({ ip, ...o }));
    });
  }

  /** The current allocations (read without the lock: the file is replaced atomically). */
  list(): Array<{ ip: string } & Owner> {
    return Object.entries(this.#read().allocations).map(([ip, o]) => ({ ip, ...o }));
  }

  #drop(state: State, match: (o: Owner) => boolean): string[] {
    // A loop, not filter(): DEL runs this in a process that lives a few ms (see src/cni/main.ts).
    const gone: string[] = [];
    for (const [ip, o] of Object.entries(state.allocations)) {
      if (!match(o)) continue;
      delete state.allocations[ip];
      gone.push(ip);
    }
    return gone;
  }

  #read(): State {
    const text = this.#files.readText(`${this.dir}/allocations.json`);
    if (text === undefined) return { version: 1, allocations: {} };
    try {
      const state = JSON.parse(text) as State;
      if (state.version !== 1 || typeof state.allocations !== "object" || state.allocations === null) throw new Error("unexpected shape");
      return state;
    } catch (err) {
      throw new WeftError("IPAM_STORE_CORRUPT", `IPAM store ${this.dir}/allocations.json is not valid: ${(err as Error).message}`, {
        hint: "move the file aside; running pods keep their addresses, and DEL/GC will tidy up",
      });
    }
  }

  #update<T>(change: (state: State) => T): T {
    let unlock: () => void;
    try {
      unlock = this.#lock(`${this.dir}/lock`);
    } catch (err) {
      if ((err as { code?: unknown }).code !== "ENOENT") throw err;
      this.#files.mkdirs(this.dir, 0o700);
      unlock = this.#lock(`${this.dir}/lock`);
    }
    try {
      const state = this.#read();
      const before = JSON.stringify(state);
      const result = change(state);
      const after = JSON.stringify(state);
      if (after !== before) {
        const tmp = `${this.dir}/allocations.json.${process.pid}.tmp`;
        this.#files.writeText(tmp, after, 0o666);
        this.#files.rename(tmp, `${this.dir}/allocations.json`);
      }
      return result;
    } finally {
      unlock();
    }
  }
}
