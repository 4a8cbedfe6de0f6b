/**
 * Watching the embedded store's directory. fs.watch makes changes show up
 * at once, but it can miss events (and cannot see a lease expire, which
 * changes no file), so the directory is also rescanned every SCAN_MS; each
 * scan diffs the unexpired leases against the last scan and reports the
 * difference. Record files never change once written (see records.ts), so
 * a scan reads only files whose names it has not seen before.
 */
import { watch as watchFs, type FSWatcher } from "node:fs";
import { WeftError } from "../../lib/errors.ts";
import { diffLeases, subnetKey, type Lease, type LeaseEvent } from "../types.ts";
import { headVersion, readRecord, recordName, scanDir, unusable } from "./records.ts";

/** How often the directory is rescanned, in ms: bounds how late an expiry is reported. */
export const SCAN_MS = 250;
/** How long a change waits for the rest of its burst before the scan, in ms. */
const BURST_MS = 5;
/** The longest wait between scans while the directory cannot be read, in ms. */
export const MAX_BACKOFF_MS = 5_000;

/** Watches the store directory `dir`; see SubnetStore.watch. Returns the stop function. */
export function watchDir(dir: string, onEvent: (e: LeaseEvent) => void, onError?: (err: WeftError) => void): () => void {
  let known = new Map<string, Lease>(); // empty at first: the first scan reports every lease
  const records = new Map<string, Lease | undefined>(); // record file name → its lease
  let stopped = false;
  let scanning = false;
  let again = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let fsWatcher: FSWatcher | undefined;
  let burst: NodeJS.Timeout | undefined;

  const openFsWatcher = (): void => {
    if (fsWatcher || stopped) return;
    try {
      fsWatcher = watchFs(dir, (_event, name) => {
        // A write is a temporary file, a link and two unlinks: only the
        // record names matter, and a burst of them needs one scan.
        if (typeof name === "string" && name.startsWith(".tmp-")) return;
        burst ??= setTimeout(() => {
          burst = undefined;
          void scan();
        }, BURST_MS);
      });
      fsWatcher.on("error", () => {
        fsWatcher?.close();
        fsWatcher = undefined;
      });
    } catch {
      // The directory does not exist yet: the periodic scan covers it, and
      // tries again next time.
    }
  };

  const scanOnce = async (): Promise<void> => {
    openFsWatcher();
    const listing = await scanDir(dir);
    const now = Date.now();
    const next = new Map<string, Lease>();
    const seen = new Set<string>();
    for (const subnet of listing.versions.keys()) {
      const name = recordName(subnetKey(subnet), headVersion(listing, subnet));
      seen.add(name);
      if (!records.has(name)) {
        const rec = await readRecord(dir, name, subnet);
        if (rec === undefined) {
          // Replaced since the listing: keep what we knew and look again.
          const old = known.get(subnet);
          if (old) next.set(subnet, old);
          again = true;
          continue;
        }
        records.set(name, rec.lease);
      }
      const lease = records.get(name);
      if (lease && lease.expiresAt > now) next.set(subnet, lease);
    }
    for (const name of records.keys()) if (!seen.has(name)) records.delete(name);
    if (stopped) return;
    const events = diffLeases(known, next);
    known = next;
    // Delivered outside the scan, so a throwing callback is the caller's
    // uncaught exception rather than a store error.
    for (const event of events) queueMicrotask(() => stopped || onEvent(event));
  };

  // One scan at a time; a request during a scan runs one more afterwards.
  const scan = async (): Promise<void> => {
    if (scanning) {
      again = true;
      return;
    }
    scanning = true;
    clearTimeout(timer);
    try {
      do {
        again = false;
        await scanOnce();
      } while (again && !stopped);
      failures = 0;
    } catch (err) {
      failures++;
      if (!stopped) onError?.(unusable(dir, err));
    } finally {
      scanning = false;
      if (!stopped) {
        const wait = failures === 0 ? SCAN_MS : Math.min(SCAN_MS * 2 ** failures, MAX_BACKOFF_MS);
        timer = setTimeout(() => void scan(), wait);
      }
    }
  };

  // The first scan runs after watch() returns, so no event reaches the
  // caller before it holds the stop function.
  timer = setTimeout(() => void scan(), 0);
  return () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(burst);
    fsWatcher?.close();
    fsWatcher = undefined;
  };
}
