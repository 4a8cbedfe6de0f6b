/**
 * The embedded store's files: how a lease is kept on disk so that many agent
 * processes on one machine can change it safely at once, without a lock.
 *
 * Each subnet has a chain of numbered record files in the store directory:
 *
 *     10.244.3.0-24.v7.json     {"subnet":"10.244.3.0/24","attrs":{…},"expiresAt":…}
 *
 * The highest version is the subnet's current state (the *head*): a lease
 * record, or a tombstone `{"released":true}` once released. Every change —
 * create, take-over of an expired lease, renew, release — is a
 * compare-and-swap from head version n to n+1: the record is written to a
 * temporary file and hard-linked to the name of version n+1. link(2) fails
 * with EEXIST when that name exists, atomically, so of all writers that read
 * head n exactly one gets n+1; the others re-read and decide again. Readers
 * never see half a record (the link appears with its content complete). Once
 * its version is in place, the writer removes the older versions, so in the
 * steady state there is one file per subnet (tombstones stay, one small file
 * per subnet ever released, so version numbers are never reused).
 *
 * Because old versions are removed, a writer that read the head long ago can
 * link a number that was used and removed already (head 9, it links 6). Its
 * record is then not the head, so after linking every writer checks that no
 * higher version exists, and counts its write as lost otherwise.
 *
 * Nothing is ever locked, so a crashed agent cannot leave the store stuck;
 * at worst it leaves a `.tmp-*` file, which later writers sweep.
 */
import { randomBytes } from "node:crypto";
import { link, readdir, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeDirs } from "../../lib/dirs.ts";
import { WeftError } from "../../lib/errors.ts";
import { STORE_UNAVAILABLE, decodeLease, encodeLease, subnetFromKey, subnetKey, type Lease } from "../types.ts";

/** The name of version `version` of the record of the subnet with key `key`. */
export function recordName(key: string, version: number): string {
  return `${key}.v${version}.json`;
}

const RECORD = /^(.+)\.v([1-9]\d{0,14})\.json$/;

/** Parses a record file name; undefined for any other file. */
export function parseRecordName(name: string): { subnet: string; version: number } | undefined {
  const m = RECORD.exec(name);
  const subnet = m ? subnetFromKey(m[1]!) : undefined;
  return subnet === undefined ? undefined : { subnet, version: Number(m![2]) };
}

/** A subnet's current state: its head version (0 when it never had a record) and its lease. */
export interface Head {
  version: number;
  /** The lease in the head record, expired or not; undefined for a tombstone or no record. */
  lease: Lease | undefined;
}

/** Temporary files older than this are left over by a crashed writer. */
const STALE_TEMP_MS = 60_000;

/** What a directory listing shows: each subnet's record versions, and temporary files. */
export interface Scan {
  /** Subnet → the versions of its record files that exist. */
  versions: Map<string, number[]>;
  /** Names of `.tmp-*` files. */
  temps: string[];
}

/** Lists the store directory; a missing directory is an empty store. */
export async function scanDir(dir: string): Promise<Scan> {
  const versions = new Map<string, number[]>();
  const temps: string[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if (errno(err) === "ENOENT") return { versions, temps };
    throw unusable(dir, err);
  }
  for (const name of names) {
    if (name.startsWith(".tmp-")) temps.push(name);
    const rec = parseRecordName(name);
    if (rec) versions.set(rec.subnet, [...(versions.get(rec.subnet) ?? []), rec.version]);
  }
  return { versions, temps };
}

/** The head version of `subnet` in a scan: its highest, or 0 when it has no record. */
export function headVersion(scan: Scan, subnet: string): number {
  return Math.max(0, ...(scan.versions.get(subnet) ?? []));
}

/**
 * Reads the record `name`; undefined when it is gone — a newer version
 * replaced it since the directory was read, and the caller should re-read.
 */
export async function readRecord(dir: string, name: string, subnet: string): Promise<{ lease: Lease | undefined } | undefined> {
  try {
    return { lease: decodeLease(await readFile(join(dir, name), "utf8"), subnet) };
  } catch (err) {
    if (errno(err) === "ENOENT") return undefined;
    throw unusable(dir, err);
  }
}

/** Reads the head of one subnet. */
export async function readHead(dir: string, subnet: string): Promise<Head> {
  for (;;) {
    const version = headVersion(await scanDir(dir), subnet);
    if (version === 0) return { version, lease: undefined };
    const rec = await readRecord(dir, recordName(subnetKey(subnet), version), subnet);
    if (rec) return { version, lease: rec.lease };
  }
}

/**
 * Writes version `version` of `subnet`'s record — `lease`, or a tombstone
 * when undefined — if that version does not exist yet and stays the head.
 * Returns false when another writer got there first; the caller re-reads the
 * head and decides again.
 */
export async function writeVersion(dir: string, subnet: string, version: number, lease: Lease | undefined): Promise<boolean> {
  const key = subnetKey(subnet);
  const tmp = join(dir, `.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
  const text = lease === undefined ? '{"released":true}' : encodeLease(lease);
  try {
    try {
      await writeFile(tmp, text, { flag: "wx", mode: 0o644 });
    } catch (err) {
      if (errno(err) !== "ENOENT") throw err;
      // Not mkdir({ recursive }): it spins for ever where mkdir(2) says ENOENT under an existing parent (/proc).
      makeDirs(dir, "the embedded store directory");
      await writeFile(tmp, text, { flag: "wx", mode: 0o644 });
    }
    try {
      await link(tmp, join(dir, recordName(key, version)));
    } catch (err) {
      if (errno(err) === "EEXIST") return false;
      throw err;
    }
  } catch (err) {
    throw unusable(dir, err);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  const scan = await scanDir(dir);
  if (headVersion(scan, subnet) > version) {
    // A stale writer reused a removed number (see the top of this file).
    await removeFile(dir, recordName(key, version));
    return false;
  }
  for (const v of scan.versions.get(subnet) ?? []) {
    if (v < version) await removeFile(dir, recordName(key, v));
  }
  await sweepTemps(dir, scan.temps);
  return true;
}

// Another writer may remove the same old version first: gone is fine.
async function removeFile(dir: string, name: string): Promise<void> {
  try {
    await unlink(join(dir, name));
  } catch (err) {
    if (errno(err) !== "ENOENT") throw unusable(dir, err);
  }
}

async function sweepTemps(dir: string, temps: string[]): Promise<void> {
  for (const name of temps) {
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > STALE_TEMP_MS) await unlink(path).catch(() => undefined);
  }
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** The STORE_UNAVAILABLE error for a directory the store cannot read or write. */
export function unusable(dir: string, err: unknown): WeftError {
  if (err instanceof WeftError) return err;
  const reason = errno(err) ?? (err instanceof Error ? err.message : String(err));
  return new WeftError(STORE_UNAVAILABLE, `embedded store ${dir} is unusable: ${reason}`, {
    hint: "make sure the directory can be created and written by the agent, or choose another one",
    cause: err,
  });
}
