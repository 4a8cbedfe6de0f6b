/** Quoting a supervised process's log in an error, so the error says why without opening the file. */
import { readFileSync } from "node:fs";

/** `: "<last line the process logged>"` (the supervisor's own lines skipped), or nothing. */
export function lastLogLine(log: string): string {
  try {
    const lines = readFileSync(log, "utf8").split("\n").filter((l) => l.trim() !== "" && !l.startsWith("supervisor: "));
    const last = lines.at(-1);
    return last ? `: "${last.trim().slice(0, 200)}"` : "";
  } catch {
    return "";
  }
}
