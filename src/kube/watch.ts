/**
 * The watch every informer of weft uses: the library's Watch, contract and
 * all (the same callback, done and AbortController, the same 30 s of
 * silence before it gives up), on undici's request() instead of fetch.
 *
 * The library reads a watch through fetch's web stream, a Node.js stream
 * adapted from it and readline: three layers per chunk, which made a good
 * part of a lab kubelet's CPU while its pods started (the watch of its
 * pods, with `perf`). Here the response body is read as it comes and split
 * into lines by hand; each line is one event, as the API server writes
 * them.
 */
import { STATUS_CODES } from "node:http";
import { Watch, type KubeConfig } from "@kubernetes/client-node";
import { request } from "undici";
import { connection } from "./request.ts";

/** How long a watch may stay silent (no event, no bookmark) before it ends with a TimeoutError, as the library's. */
const SILENCE_MS = 30_000;

type WatchArgs = Parameters<Watch["watch"]>;

/**
 * The library's Watch (ListWatch and StreamInformer take one) on undici's
 * request(): `callback` gets each event's type and object, `done` is called
 * once when the watch ends (null when the server ended it, else the error:
 * an HTTP status as `statusCode`, an abort, a TimeoutError after
 * `silenceMs` without a byte).
 */
export class LeanWatch extends Watch {
  readonly #silenceMs: number;

  constructor(config: KubeConfig, silenceMs = SILENCE_MS) {
    super(config);
    this.#silenceMs = silenceMs;
  }

  override async watch(path: WatchArgs[0], queryParams: WatchArgs[1], callback: WatchArgs[2], done: WatchArgs[3]): Promise<AbortController> {
    const cluster = this.config.getCurrentCluster();
    if (!cluster) throw new Error("No currently active cluster");
    const url = new URL(cluster.server + path);
    url.searchParams.set("watch", "true");
    for (const [key, val] of Object.entries(queryParams ?? {})) if (val !== undefined) url.searchParams.set(key, String(val));
    const controller = new AbortController();
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const resetTimer = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
      }, this.#silenceMs);
      timer.unref();
    };
    let finished = false;
    const finish = (err: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      controller.abort();
      done(err && timedOut ? new DOMException("The operation was aborted due to timeout", "TimeoutError") : err);
    };
    const { headers, dispatcher } = await connection(this.config);
    try {
      resetTimer();
      const r = await request(url, { method: "GET", headers, ...(dispatcher && { dispatcher }), signal: controller.signal, bodyTimeout: 0 });
      if (r.statusCode !== 200) {
        await r.body.dump().catch(() => {});
        const error = new Error(STATUS_CODES[r.statusCode] ?? "Internal Server Error") as Error & { statusCode: number };
        error.statusCode = r.statusCode;
        throw error;
      }
      resetTimer();
      const emit = (line: string) => {
        // A callback that stopped the watch gets nothing more, not even the rest of the chunk.
        if (line === "" || finished) return;
        try {
          const data = JSON.parse(line) as { type: string; object: unknown };
          callback(data.type, data.object, data);
        } catch {
          // A line that is not an event, or a callback that threw: the library ignores both.
        }
      };
      // The part of a line that arrived without its end yet.
      const partial: string[] = [];
      r.body.setEncoding("utf8");
      r.body.on("data", (chunk: string) => {
        resetTimer();
        let start = 0;
        for (let i = chunk.indexOf("\n"); i >= 0; i = chunk.indexOf("\n", start)) {
          partial.push(chunk.slice(start, i));
          emit(partial.join(""));
          partial.length = 0;
          start = i + 1;
        }
        if (start < chunk.length) partial.push(chunk.slice(start));
      });
      r.body.on("error", finish);
      r.body.on("end", () => {
        emit(partial.join(""));
        finish(null);
      });
      r.body.on("close", () => finish(null));
    } catch (err) {
      finish(err);
    }
    return controller;
  }
}
