/**
 * `kube-proxy`: kube-proxy and weft's service proxy must not both program
 * a node. Each DNATs the same ClusterIPs and NodePorts in its own table, so
 * which one wins depends on hook priorities; both mark packets with bit
 * 0x4000 for masquerade, and a Service without endpoints is refused by one
 * while the other balances it. kube-proxy is seen by its nftables-mode
 * table (`ip kube-proxy`, `inet kube-proxy`) or its iptables-mode chain
 * KUBE-SERVICES (proxy-facts.ts); weft's proxy by its table `ip weft-proxy`
 * or the agent's /services.
 */
import { TABLE } from "../../proxy/plan.ts";
import { valueOf } from "../facts.ts";
import { fail, listing, ok, warn, type Check } from "../finding.ts";

const CHECK = "kube-proxy";

export const checkKubeProxy: Check = (node) => {
  const read = node.kernel.kubeProxy;
  if (!read.ok) return [fail(node, CHECK, `cannot read the nftables ruleset: ${read.error}`, "install nftables and run weft doctor as root")];
  const weftTable = valueOf(node.kernel.proxyTable);
  const weftRuns = node.agent.services.ok || (weftTable !== null && weftTable !== undefined);
  const kube = read.value;
  if (kube.length === 0) return weftRuns ? [ok(node, CHECK, "no kube-proxy rules: weft's service proxy alone programs Services")] : [];
  const where = listing(kube.map((k) => k.where));
  if (!weftRuns) return [ok(node, CHECK, `kube-proxy serves Services here (${where}); weft's service proxy is off`)];
  const weftKeys = new Set((weftTable?.elements ?? []).map((e) => e.slice(e.indexOf("|") + 1)));
  const both = [...new Set(kube.flatMap((k) => k.keys))].filter((k) => weftKeys.has(k));
  const shown = both.slice(0, 3).map((k) => {
    const [ip, proto, port] = k.split(" . ");
    return `${ip}:${port}/${proto!.toUpperCase()}`;
  });
  const fix = `run one proxy per cluster: either turn weft's off ("serviceProxy": false in ConfigMap kube-system/weft-config, kubectl -n kube-system rollout restart daemonset/weft, then ${node.onNode(`nft delete table ${TABLE.family} ${TABLE.name}`)}), or remove kube-proxy (kubectl -n kube-system delete daemonset kube-proxy, then kube-proxy --cleanup on each node)`;
  if (both.length === 0) {
    return [warn(node, CHECK, `kube-proxy's rules are here (${where}) beside weft's service proxy, though they translate no Service address weft's table does (left over from a kube-proxy that ran before?)`, fix)];
  }
  return [fail(node, CHECK, `kube-proxy (${where}) and weft's service proxy both program ${both.length} service address${both.length === 1 ? "" : "es"}, e.g. ${listing(shown)}: two DNATs for one Service, and both use mark 0x4000 for masquerade`, fix)];
};
