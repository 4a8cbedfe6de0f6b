import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tailOffset } from "./server.ts";

test("tailOffset finds where the last N lines start", () => {
  const dir = mkdtempSync(join(tmpdir(), "weft-tail-"));
  try {
    const f = join(dir, "log");
    for (const [text, n, want] of [
      ["a\nb\nc\n", 2, "b\nc\n"],
      ["a\nb\nc\n", 1, "c\n"],
      ["a\nb\nc\n", 5, "a\nb\nc\n"],
      ["a\nb\nc", 1, "c"],
      ["a\nb\nc", 2, "b\nc"],
      ["a\nb\nc\n", 0, ""],
      ["", 3, ""],
    ] as const) {
      writeFileSync(f, text);
      const size = Buffer.byteLength(text);
      assert.equal(readFileSync(f, "utf8").slice(tailOffset(f, size, n)), want, JSON.stringify([text, n]));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
