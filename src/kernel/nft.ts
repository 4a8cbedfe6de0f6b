/**
 * nftables changes as one `nft -f -` transaction: the kernel applies the
 * whole script or none of it, so a table is never seen half-written.
 */
import { run, type Runner } from "./runner.ts";

/** Applies an nft script atomically; throws KERNEL_COMMAND_FAILED with nft's message. */
export async function applyNft(runner: Runner, script: string, onSpawn?: (pid: number) => void): Promise<void> {
  await run(runner, ["nft", "-f", "-"], script, onSpawn);
}

/**
 * The script that removes table `family name` and succeeds when it is
 * already gone: declaring an empty table first makes the delete always valid.
 */
export function deleteTableScript(family: string, name: string): string {
  return `table ${family} ${name} {}\ndelete table ${family} ${name}\n`;
}
