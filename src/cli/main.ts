/**
 * `weft` — the command-line entry. Each command lives in its own module under
 * cli/commands and is loaded only when called, so `weft lab run` does not pay
 * for the agent's imports. A new command is one line in COMMANDS.
 *
 * Failures are one line on stderr and a non-zero exit, never a stack trace
 * (set WEFT_DEBUG=1 to see the stack).
 */
import { runEntry } from "./entry.ts";

/** A command's contract: parse its own arguments, return the exit status. */
export type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  agent: { summary: "run the node agent (or --cleanup what it made)", load: async () => (await import("./commands/agent.ts")).run },
  demo: { summary: "show weft at work (the README's first command)", load: async () => (await import("./commands/demo.ts")).run },
  dns: { summary: "serve cluster DNS: the Kubernetes DNS specification, forwarding and a cache", load: async () => (await import("./commands/dns.ts")).run },
  doctor: { summary: "find what breaks pod networking on a node or a lab, and how to fix it", load: async () => (await import("./commands/doctor.ts")).run },
  "install-cni": { summary: "write the CNI plugin executable and its conflist", load: async () => (await import("./commands/install-cni.ts")).run },
  lab: { summary: "a cluster in namespaces: up, down, kubectl, kubeconfig, run, exec, rm, pods, smoke", load: async () => (await import("./commands/lab.ts")).run },
  status: { summary: "ask the node agent: summary, peers, ipam, connections", load: async () => (await import("./commands/status.ts")).run },
  trace: { summary: "follow a packet from one lab pod to another through kernel state", load: async () => (await import("./commands/trace.ts")).run },
  version: { summary: "print weft's version, the commit it was built from and its Node.js (also --version)", load: async () => (await import("./commands/version.ts")).run },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `usage: weft COMMAND [ARGS]\n\ncommands:\n${lines.join("\n")}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name === "--version" ? "version" : name];
  if (!command) {
    process.stderr.write(`weft: unknown command "${name}" (run "weft help" for the list)\n`);
    return 2;
  }
  return (await command.load())(rest);
}

await runEntry(main);
