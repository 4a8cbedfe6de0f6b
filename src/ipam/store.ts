/**
 * Pod IP allocation inside the node subnet, stored on disk.
 *
 * Layout, in `dataDir/<network name>/` (default `/var/lib/weft/ipam/weft/`):
 *
 *     lock        empty; flock(2)ed exclusively around every read and change
 *     addresses   a header and one 512-byte record per address (records.ts)
 *
 * A change rewrites only the records it touches, in place: an ADD writes
 * its allocation into a free record (or appends one) and then the header's
 * cursor; a DEL blanks the record. The lock makes read-modify-write safe
 * across any number of plugin processes. `last` is where the next search
 * starts, so a released address is not handed out again at once (a late
 * packet to it reaches no stranger). The network address, the gateway (the
 * subnet's first address) and the broadcast address are never handed out.
 *
 * A store written by weft before version 2 (`allocations.json`) is carried
 * over by the first call that finds no `addresses`: the new file is written
 * aside and renamed into place, then the old one is removed.
 */
import { WeftError } from "../lib/errors.ts";
import { contains, formatIp, formatPrefix, lastOf, parseIp, type Prefix } from "../lib/ipv4.ts";
import type { Files, InPlaceFile } from "../sys/files.ts";
import { IoError } from "../sys/syscalls.ts";
import { checkRecords, formatHeader, formatRecord, freeRecord, heldBy, parseHeader, parseRecord, parseTable, parseVersion1, RECORD, type Allocation, type Owner } from "./records.ts";

export type { Allocation, Owner } from "./records.ts";

/** Takes an exclusive lock on `path` (creating it) and returns the release function. */
export type Locker = (path: string) => () => void;

/** Error code when the node subnet has no free address. */
export const IPAM_EXHAUSTED = "IPAM_EXHAUSTED";

/** Error code when the store's file is not what weft writes. */
export const IPAM_STORE_CORRUPT = "IPAM_STORE_CORRUPT";

/**
 * How to recover from a damaged store, for every reader of it to give. Not
 * "move it aside": an empty store would hand out again the addresses
 * running pods hold.
 */
export const IPAM_STORE_REPAIR_HINT =
  "nothing was changed and no address was handed out; repair the file by hand: each record is one line of exactly 511 characters and a newline " +
  '(the header "weft-ipam 2 last=<address>", then "<address> <containerId> <ifname> <pod>" or spaces), padded with spaces; ' +
  "put the damaged record back to that shape, or blank it (511 spaces) if its pod is gone, and check `weft status ipam`. " +
  "Do not delete the file while pods run: their addresses would be handed out again";

/** errno names of a store that can be read but not written. */
const READ_ONLY = new Set(["EROFS", "EACCES", "EPERM"]);

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

  /** The store's file. */
  get file(): string {
    return `${this.dir}/addresses`;
  }

  /**
   * Returns the address held by (containerId, ifname), or allocates the next
   * free one in `subnet`. `fresh` says whether this call allocated it, so a
   * failed ADD releases only what it took.
   */
  allocate(subnet: Prefix, gateway: number, owner: Owner): { ip: number; fresh: boolean } {
    return this.#update((text, file) => {
      // Everything the search below relies on is checked first (checkRecords):
      // a record out of place would be overwritten, or its address handed out again.
      const cursor = this.#parse(text, parseHeader);
      const used = this.#parse(text, checkRecords);
      const held = heldBy(text, owner);
      for (const { ip } of held) if (contains(subnet, ip)) return { ip, fresh: false };
      // An address outside the subnet (the node's subnet changed) is no use
      // to the pod here: its record takes the new one, so an owner never
      // holds two addresses.
      const slot = held[0]?.record ?? freeRecord(text);
      const first = subnet.base + 1;
      const last = lastOf(subnet) - 1;
      const count = last - first + 1;
      const prev = cursor === undefined ? undefined : parseIp(cursor);
      const start = prev !== undefined && prev >= first && prev <= last ? prev + 1 : first;
      for (let i = 0; i < count; i++) {
        const ip = first + ((start - first + i) % count);
        if (ip === gateway || used.has(ip)) continue;
        const ipText = formatIp(ip);
        // The record before the cursor: a crash between the two leaves the
        // cursor behind, which only moves the next search back a little.
        file.writeAt(slot * RECORD, formatRecord({ ip: ipText, ...owner }));
        file.writeAt(0, formatHeader(ipText));
        return { ip, fresh: true };
      }
      let inSubnet = 0;
      for (const ip of used.keys()) if (contains(subnet, ip)) inSubnet++;
      throw new WeftError(IPAM_EXHAUSTED, `no free address in node subnet ${formatPrefix(subnet)}: all ${inSubnet} pod addresses are allocated (store ${this.file})`, {
        hint: "delete pods that are gone (CNI DEL or GC), or give nodes larger subnets (agent --subnet-len)",
      });
    });
  }

  /**
   * Releases whatever (containerId, ifname) holds; returns the released
   * addresses. Makes no store where there is none (DEL makes no state),
   * and succeeds on a store it cannot write when the owner holds nothing.
   */
  release(owner: Owner): string[] {
    return (
      this.#locked(false, () => {
        let file: InPlaceFile | undefined;
        try {
          file = this.#openExisting();
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          if (!(typeof code === "string" && READ_ONLY.has(code))) throw err;
          // Nothing to release is success even where nothing can be written: a runtime retries a failed DEL forever.
          const held = this.#held(this.#readOnly(), owner);
          if (held.length === 0) return [];
          throw new IoError(`cannot release ${held.map((h) => formatIp(h.ip)).join(", ")} held by ${owner.containerId}/${owner.ifname}: IPAM store ${this.file} cannot be written`, (err as IoError).errno);
        }
        if (!file) return [];
        try {
          const text = file.readText();
          const ips: string[] = [];
          for (const { record, ip } of this.#held(text, owner)) {
            file.writeAt(record * RECORD, formatRecord(undefined));
            ips.push(formatIp(ip));
          }
          return ips;
        } finally {
          file.close();
        }
      }) ?? []
    );
  }

  /** Releases every allocation not in `keep` (CNI GC); returns what it released with its owner. Makes no store where there is none. */
  releaseAllExcept(keep: Owner[]): Allocation[] {
    const valid = new Set(keep.map((o) => `${o.containerId}\u0000${o.ifname}`));
    return (
      this.#locked(false, () => {
        const file = this.#openExisting();
        if (!file) return [];
        try {
          const gone: Allocation[] = [];
          for (const [i, a] of this.#parse(file.readText(), parseTable).slots.entries()) {
            if (a === undefined || valid.has(`${a.containerId}\u0000${a.ifname}`)) continue;
            file.writeAt((i + 1) * RECORD, formatRecord(undefined));
            gone.push(a);
          }
          return gone;
        } finally {
          file.close();
        }
      }) ?? []
    );
  }

  /**
   * The current allocations, read under the lock but never written: CHECK
   * and STATUS make no store where there is none, and carry no version-1
   * store over.
   */
  list(): Allocation[] {
    return (
      this.#locked(false, () => {
        let text: string;
        try {
          text = this.#readOnly();
        } catch (err) {
          if ((err as { code?: unknown }).code !== "ENOENT") throw err;
          const old = this.#files.readText(this.#legacy);
          return old === undefined ? [] : this.#parseVersion1(old).allocations;
        }
        return this.#parse(text, parseTable).slots.filter((a) => a !== undefined);
      }) ?? []
    );
  }

  /**
   * Why ADD could not write the store, or undefined when it could: the
   * store's file, or where it would be made, is on a read-only file system
   * or not writable (STATUS). Makes nothing.
   */
  whyNotWritable(): string | undefined {
    let path = this.file;
    for (;;) {
      const problem = this.#files.writable(path);
      if (problem !== "ENOENT") return problem === undefined ? undefined : `IPAM store ${path === this.file ? this.file : `directory ${path}`} cannot be written (${problem})`;
      if (path === "/") return undefined;
      const up = path.lastIndexOf("/");
      path = up <= 0 ? "/" : path.slice(0, up);
    }
  }

  /** The records `owner` holds, each checked whole, after what the search relies on is checked. */
  #held(text: string, owner: Owner): Array<{ record: number; ip: number }> {
    this.#parse(text, parseHeader);
    this.#parse(text, checkRecords);
    const held = heldBy(text, owner);
    for (const { record } of held) this.#parse(text, (t) => parseRecord(t, record));
    return held;
  }

  /** The store's file read without opening it for writing. */
  #readOnly(): string {
    const file = this.#files.openInPlace(this.file, true);
    try {
      return file.readText();
    } finally {
      file.close();
    }
  }

  /** `parse(text)`, its failure reported as a corrupt store. */
  #parse<T>(text: string, parse: (text: string) => T): T {
    try {
      return parse(text);
    } catch (err) {
      throw new WeftError(IPAM_STORE_CORRUPT, `IPAM store ${this.file} is not valid: ${(err as Error).message}`, { hint: IPAM_STORE_REPAIR_HINT });
    }
  }

  /**
   * Runs `fn` under the store's lock. With `create`, a missing store
   * directory is made; without, it means there is no store, and `fn` is
   * not run (undefined).
   */
  #locked<T>(create: boolean, fn: () => T): T | undefined {
    let unlock: () => void;
    try {
      unlock = this.#lock(`${this.dir}/lock`);
    } catch (err) {
      if ((err as { code?: unknown }).code !== "ENOENT") throw err;
      if (!create) return undefined;
      this.#files.mkdirs(this.dir, 0o700);
      unlock = this.#lock(`${this.dir}/lock`);
    }
    try {
      return fn();
    } finally {
      unlock();
    }
  }

  /** Runs `change` on the store's text under the lock, making the store if need be; it writes its changes to `file` itself. */
  #update<T>(change: (text: string, file: InPlaceFile) => T): T {
    return this.#locked(true, () => {
      const file = this.#open();
      try {
        return change(file.readText(), file);
      } finally {
        file.close();
      }
    })!;
  }

  /** Opens `addresses` for a change when there is a store (carrying a version-1 one over), undefined when there is none. */
  #openExisting(): InPlaceFile | undefined {
    try {
      return this.#files.openInPlace(this.file);
    } catch (err) {
      if ((err as { code?: unknown }).code !== "ENOENT") throw err;
    }
    return this.#files.readText(this.#legacy) === undefined ? undefined : this.#open();
  }

  /** Where a version-1 store kept its state. */
  get #legacy(): string {
    return `${this.dir}/allocations.json`;
  }

  #parseVersion1(text: string): ReturnType<typeof parseVersion1> {
    try {
      return parseVersion1(text);
    } catch (err) {
      throw new WeftError(IPAM_STORE_CORRUPT, `IPAM store ${this.#legacy} (version 1) is not valid: ${(err as Error).message}`, {
        hint: 'nothing was changed and no address was handed out; repair the JSON by hand ({"version":1,"last":…,"allocations":{"<address>":{"containerId":…,"ifname":…}}}); do not delete it while pods run: their addresses would be handed out again',
      });
    }
  }

  /** Opens `addresses`, first making it (from a version-1 store when there is one) if it is missing. */
  #open(): InPlaceFile {
    try {
      return this.#files.openInPlace(this.file);
    } catch (err) {
      if ((err as { code?: unknown }).code !== "ENOENT") throw err;
    }
    const old = this.#files.readText(this.#legacy);
    let content = formatHeader(undefined);
    if (old !== undefined) {
      const v1 = this.#parseVersion1(old);
      content = formatHeader(v1.last) + v1.allocations.map(formatRecord).join("");
    }
    const tmp = `${this.file}.${process.pid}.tmp`;
    this.#files.writeText(tmp, content, 0o600);
    this.#files.rename(tmp, this.file);
    if (old !== undefined) this.#files.remove(this.#legacy);
    return this.#files.openInPlace(this.file);
  }
}
