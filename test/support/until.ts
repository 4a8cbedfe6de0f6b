/**
 * Polling for tests that wait on another process: the agent's API, the
 * kernel state it programs, a store it writes.
 */
import { sleep } from "../../src/lib/sleep.ts";

/** Thrown by a check that knows waiting longer cannot help (the process it waits on has exited): until rethrows it at once. */
export class GiveUp extends Error {}

/**
 * Calls `check` every `everyMs` (default 20) until it returns something other than
 * undefined or false (a throw counts as "not yet", but GiveUp ends the wait),
 * and returns that; throws naming `what` after `timeoutMs`.
 */
export async function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
