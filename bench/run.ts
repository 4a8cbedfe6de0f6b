/** `npm run bench`: every benchmark, each printing its figures and its ratio to the reference. */
import { benchCniAdd } from "./cni-add.ts";
import { benchPluginBinary } from "./plugin-binary.ts";

await benchPluginBinary();
await benchCniAdd();
