/**
 * Applies an NftTransaction in the runner's network namespace as one
 * `nft -f -` run (kernel/nft.ts): all of it or, when nft refuses any line,
 * none of it.
 */
import { applyNft } from "../nft.ts";
import type { Runner } from "../runner.ts";
import type { NftTransaction } from "./transaction.ts";

/** Applies `tx`; does nothing for an empty one. Throws KERNEL_COMMAND_FAILED with nft's message. `onSpawn` hears nft's pid. */
export async function applyTransaction(runner: Runner, tx: NftTransaction, onSpawn?: (pid: number) => void): Promise<void> {
  const script = tx.render();
  if (script === "") return;
  await applyNft(runner, script, onSpawn);
}
