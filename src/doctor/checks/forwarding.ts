/**
 * `forwarding`: net.ipv4.ip_forward in the node's namespace. Off, the node
 * still answers at its own addresses but drops every pod packet it should
 * pass on (remote pod to local pod, local pod to anywhere else). The agent
 * turns it on at start, the CNI plugin at each pod ADD; neither fights
 * whatever turns it off later.
 */
import { fail, ok, type Check } from "../finding.ts";

/** The check. */
export const checkForwarding: Check = (node) => {
  const read = node.kernel.ipForward;
  if (!read.ok) return [fail(node, "forwarding", `cannot read net.ipv4.ip_forward: ${read.error}`, "install procps (sysctl) and run weft doctor as root")];
  if (read.value === "1") return [ok(node, "forwarding", "net.ipv4.ip_forward = 1")];
  return [
    fail(
      node,
      "forwarding",
      `net.ipv4.ip_forward = ${read.value}: the node drops every pod packet it should pass on, so pod traffic to, from and through it fails`,
      `${node.onNode("sysctl -w net.ipv4.ip_forward=1")}; the agent turns it on at start and the CNI plugin at each pod ADD, so if they ran, something turned it off since (net.ipv4.ip_forward = 0 in /etc/sysctl.d applied by sysctl --system or configuration management, a firewall or network manager restarting): find it, or it comes back`,
    ),
  ];
};
