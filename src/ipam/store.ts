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
import { formatHeader, formatRecord, freeRecord, heldBy, isAllocated, parseRecord, parseTable, parseVersion1, RECORD, type Allocation, type Owner } from "./records.ts";

export type { Allocation, Owner } from "./records.ts";

/** Takes an exclusive lock on `path` (creating it) and returns the release function. */
export type Locker = (path: string) => () => void;

/** Error code when the node subnet has no free address. */
export const IPAM_EXHAUSTED = "IPAM_EXHAUSTED";

/** Error code when the store's file is not what weft writes. */
export const IPAM_STORE_CORRUPT = "IPAM_STORE_CORRUPT";

const HINT_CORRUPT = "move the file aside; running pods keep their addresses, and DEL/GC will tidy up";

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
      const { last: cursor } = this.#parse(text.slice(0, RECORD), parseTable);
      for (const { ip } of heldBy(text, owner)) if (contains(subnet, ip)) return { ip, fresh: false };
      // The address after the cursor is nearly always free; past a few taken
      // ones (a node that has wrapped round its subnet), every record is
      // read once, which also checks them all.
      let used: Set<number> | undefined;
      let tries = 0;
      const first = subnet.base + 1;
      const last = lastOf(subnet) - 1;
      const count = last - first + 1;
      const prev = cursor === undefined ? undefined : parseIp(cursor);
      const start = prev !== undefined && prev >= first && prev <= last ? prev + 1 : first;
      for (let i = 0; i < count; i++) {
        const ip = first + ((start - first + i) % count);
        if (ip === gateway) continue;
        const ipText = formatIp(ip);
        if (used ? used.has(ip) : isAllocated(text, ipText)) {
          if (!used && ++tries === 8) used = this.#used(text);
          continue;
        }
        // The record before the cursor: a crash between the two leaves the
        // cursor behind, which only moves the next search back a little.
        file.writeAt(freeRecord(text) * RECORD, formatRecord({ ip: ipText, ...owner }));
        file.writeAt(0, formatHeader(ipText));
        return { ip, fresh: true };
      }
      let inSubnet = 0;
      for (const ip of used ?? this.#used(text)) if (contains(subnet, ip)) inSubnet++;
      throw new WeftError(IPAM_EXHAUSTED, `no free address in node subnet ${formatPrefix(subnet)}: all ${inSubnet} pod addresses are allocated (store ${this.file})`, {
        hint: "delete pods that are gone (CNI DEL or GC), or give nodes larger subnets (agent --subnet-len)",
      });
    });
  }

  /** Releases whatever (containerId, ifname) holds; returns the released addresses. */
  release(owner: Owner): string[] {
    return this.#update((text, file) => {
      this.#parse(text.slice(0, RECORD), parseTable);
      const ips: string[] = [];
      for (const { record, ip } of heldBy(text, owner)) {
        // Checked whole before it is blanked, as a full parse would.
        this.#parse(text, (t) => parseRecord(t, record));
        file.writeAt(record * RECORD, formatRecord(undefined));
        ips.push(formatIp(ip));
      }
      return ips;
    });
  }

  /** Releases every allocation not in `keep` (CNI GC); returns what it released with its owner. */
  releaseAllExcept(keep: Owner[]): Allocation[] {
    const valid = new Set(keep.map((o) => `${o.containerId}\u0000${o.ifname}`));
    return this.#update((text, file) => {
      const gone: Allocation[] = [];
      for (const [i, a] of this.#parse(text, parseTable).slots.entries()) {
        if (a === undefined || valid.has(`${a.containerId}\u0000${a.ifname}`)) continue;
        file.writeAt((i + 1) * RECORD, formatRecord(undefined));
        gone.push(a);
      }
      return gone;
    });
  }

  /**
   * The current allocations, read under the lock but never written: CHECK
   * and STATUS make no store where there is none, and carry no version-1
   * store over.
   */
  list(): Allocation[] {
    let unlock: () => void;
    try {
      unlock = this.#lock(`${this.dir}/lock`);
    } catch (err) {
      if ((err as { code?: unknown }).code === "ENOENT") return [];
      throw err;
    }
    try {
      const text = this.#files.readText(this.file);
      if (text !== undefined) return this.#parse(text, parseTable).slots.filter((a) => a !== undefined);
      const old = this.#files.readText(this.#legacy);
      return old === undefined ? [] : this.#parseVersion1(old).allocations;
    } finally {
      unlock();
    }
  }

  /** Every allocated address, from all records parsed (and so checked). */
  #used(text: string): Set<number> {
    const used = new Set<number>();
    for (const a of this.#parse(text, parseTable).slots) if (a) used.add(parseIp(a.ip));
    return used;
  }

  /** `parse(text)`, its failure reported as a corrupt store. */
  #parse<T>(text: string, parse: (text: string) => T): T {
    try {
      return parse(text);
    } catch (err) {
      throw new WeftError(IPAM_STORE_CORRUPT, `IPAM store ${this.file} is not valid: ${(err as Error).message}`, { hint: HINT_CORRUPT });
    }
  }

  /** Runs `change` on the store's text under the lock; it writes its changes to `file` itself. */
  #update<T>(change: (text: string, file: InPlaceFile) => T): T {
    let unlock: () => void;
    try {
      unlock = this.#lock(`${this.dir}/lock`);
    } catch (err) {
      if ((err as { code?: unknown }).code !== "ENOENT") throw err;
      this.#files.mkdirs(this.dir, 0o700);
      unlock = this.#lock(`${this.dir}/lock`);
    }
    try {
      const file = this.#open();
      try {
        return change(file.readText(), file);
      } finally {
        file.close();
      }
    } finally {
      unlock();
    }
  }

  /** Where a version-1 store kept its state. */
  get #legacy(): string {
    return `${this.dir}/allocations.json`;
  }

  #parseVersion1(text: string): ReturnType<typeof parseVersion1> {
    try {
      return parseVersion1(text);
    } catch (err) {
      throw new WeftError(IPAM_STORE_CORRUPT, `IPAM store ${this.#legacy} (version 1) is not valid: ${(err as Error).message}`, { hint: HINT_CORRUPT });
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
