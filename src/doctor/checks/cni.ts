/**
 * What the container runtime finds on the node, the way kubelet's runtime
 * reads it:
 *
 * `conflist`: CONF_DIR/10-weft.conflist exists, parses, chains weft first,
 * and names the subnet file the agent writes; and it is the configuration
 * the runtime uses (the first by name in the directory).
 *
 * `plugin`: BIN_DIR/weft exists, is executable and answers VERSION with the
 * conflist's cniVersion among the versions it supports.
 *
 * `subnet-file`: the agent's subnet file exists, parses (with the parser
 * the plugin uses) and names the subnet, cluster CIDR and masquerade
 * setting the agent holds; otherwise new pods get addresses routed to
 * another node, or none.
 */
import { join } from "node:path";
import { CONFLIST_NAME } from "../../cni/conflist.ts";
import { formatPrefix } from "../../lib/ipv4.ts";
import { describeError } from "../../lib/errors.ts";
import { summarizeConflist } from "../conflist.ts";
import { valueOf, type NodeFacts } from "../facts.ts";
import { fail, ok, warn, type Check, type Finding } from "../finding.ts";
import { parsedSubnetFile } from "../subnet-file.ts";

/** The command that reinstalls the plugin and its conflist on `node`. */
function installCommand(node: NodeFacts): string {
  const ipam = valueOf(node.agent.status)?.paths.ipamDir;
  return `weft install-cni --bin-dir ${node.paths.binDir} --conf-dir ${node.paths.confDir} --subnet-file ${node.paths.subnetFile}${ipam ? ` --data-dir ${ipam}` : ""}`;
}

/** The conflist check. */
export const checkConflist: Check = (node) => {
  const path = join(node.paths.confDir, CONFLIST_NAME);
  const text = node.cni.conflist;
  if (!text.ok) return [fail(node, "conflist", `cannot read ${path}: ${text.error}`, `install it: ${installCommand(node)}`)];
  let summary;
  try {
    summary = summarizeConflist(text.value, path);
  } catch (err) {
    return [fail(node, "conflist", describeError(err), `reinstall it: ${installCommand(node)}`)];
  }
  if (summary.types[0] !== "weft") {
    return [fail(node, "conflist", `${path} chains ${summary.types.join(", ")}: weft must come first, as it makes the pod's interface the others build on`, `reinstall it: ${installCommand(node)}`)];
  }
  const findings: Finding[] = [];
  const named = node.cni.namedSubnetFile;
  const agentFile = valueOf(node.agent.status)?.paths.subnetFile;
  if (named !== null && agentFile !== undefined && named.path !== agentFile) {
    findings.push(fail(node, "conflist", `${path} reads ${named.path}, but the agent writes ${agentFile}: pods get a stale subnet or none`, `reinstall it pointing at the agent's file: ${installCommand(node)}`));
  } else if (named !== null && !named.exists) {
    findings.push(fail(node, "conflist", `${path} reads ${named.path}, which does not exist: every pod ADD fails`, "the agent writes it once it holds a lease; see the agent finding"));
  }
  const first = valueOf(node.cni.confFiles)?.[0];
  if (first !== undefined && first !== CONFLIST_NAME) {
    findings.push(warn(node, "conflist", `the runtime uses ${first}, the first configuration by name in ${node.paths.confDir}, not ${CONFLIST_NAME}`, `remove ${join(node.paths.confDir, first)} (left by another network add-on?) or make weft's sort first`));
  }
  if (findings.length === 0) findings.push(ok(node, "conflist", `${path}: ${summary.types.join(" → ")}, cniVersion ${summary.cniVersion}, subnet file ${named?.path}`));
  return findings;
};

/** The plugin check. */
export const checkPlugin: Check = (node) => {
  const path = join(node.paths.binDir, "weft");
  const stat = node.cni.plugin;
  if (!stat.ok) return [fail(node, "plugin", `cannot find the plugin ${path}: ${stat.error}`, `install it: ${installCommand(node)}`)];
  if ((stat.value.mode & 0o111) === 0) return [fail(node, "plugin", `${path} is not executable`, node.onNode(`chmod 755 ${path}`))];
  const version = node.cni.pluginVersion;
  if (!version.ok) return [fail(node, "plugin", `${path} cannot be run: ${version.error}`, `reinstall it: ${installCommand(node)}`)];
  const r = version.value;
  let supported: string[] | undefined;
  try {
    supported = (JSON.parse(r.stdout) as { supportedVersions?: string[] }).supportedVersions;
  } catch {
    supported = undefined;
  }
  if (r.code !== 0 || !Array.isArray(supported)) {
    const said = (r.stdout.trim() || r.stderr.trim() || "nothing").split("\n")[0];
    return [fail(node, "plugin", `${path} does not answer VERSION (exit status ${r.code}, said: ${said})`, `reinstall it: ${installCommand(node)}`)];
  }
  const wanted = node.cni.conflist.ok ? tryCniVersion(node.cni.conflist.value) : undefined;
  if (wanted !== undefined && !supported.includes(wanted)) {
    return [fail(node, "plugin", `${path} supports CNI ${supported.join(", ")}, not the conflist's ${wanted}`, `reinstall the plugin and conflist together: ${installCommand(node)}`)];
  }
  return [ok(node, "plugin", `${path} answers VERSION: CNI ${supported.join(", ")}`)];
};

function tryCniVersion(text: string): string | undefined {
  try {
    return summarizeConflist(text, CONFLIST_NAME).cniVersion;
  } catch {
    return undefined;
  }
}

/** The subnet file check. */
export const checkSubnetFile: Check = (node) => {
  const file = parsedSubnetFile(node);
  const path = node.paths.subnetFile;
  if (!file.ok) return [fail(node, "subnet-file", file.error, "the agent writes it once it holds a lease (see the agent finding); if the agent is ready, restart it")];
  const s = file.value;
  const status = valueOf(node.agent.status);
  const described = `${path}: ${formatPrefix(s.subnet)} of ${formatPrefix(s.network)}, MTU ${s.mtu}, masquerade ${s.ipMasq ? "on" : "off"}`;
  if (status === undefined || status.subnet === null) return [ok(node, "subnet-file", described)];
  const differs: string[] = [];
  if (formatPrefix(s.subnet) !== status.subnet) differs.push(`subnet ${formatPrefix(s.subnet)}, but the agent's lease is ${status.subnet}`);
  if (formatPrefix(s.network) !== status.network) differs.push(`cluster CIDR ${formatPrefix(s.network)}, but the agent's is ${status.network}`);
  if (s.ipMasq !== status.ipMasq) differs.push(`masquerade ${s.ipMasq}, but the agent's is ${status.ipMasq}`);
  if (differs.length > 0) {
    return [fail(node, "subnet-file", `${path} says ${differs.join("; ")}: new pods get addresses the cluster routes elsewhere`, "the agent rewrites it on its next resync; if it stays, restart the agent (and recreate pods made meanwhile)")];
  }
  return [ok(node, "subnet-file", `${described}, as the agent holds`)];
};
