/**
 * `nftables`: the agent's table `ip weft` (agent/masquerade.ts) is there
 * with its forward chain accepting the cluster CIDR and, with masquerade
 * on, the postrouting chain's masquerade rule (without it, pod traffic
 * leaving the cluster keeps pod source addresses nobody routes back); and
 * no other table's forward chain drops pod traffic by its policy
 * (forward-chains.ts: weft's accept cannot override it).
 */
import { NFT_FAMILY, NFT_TABLE } from "../../agent/masquerade.ts";
import { nftChains } from "../../kernel/nft-ruleset.ts";
import { parsePrefix } from "../../lib/ipv4.ts";
import { valueOf } from "../facts.ts";
import { fail, ok, type Check } from "../finding.ts";
import { acceptsCidr, droppingPodTraffic } from "../forward-chains.ts";

const RESYNC = "the agent rewrites the table on its next resync; if it stays wrong, restart the agent and read its log";

/** The check. */
export const checkNftables: Check = (node) => {
  const s = valueOf(node.agent.status);
  const read = node.kernel.nftTable;
  if (!read.ok) return [fail(node, "nftables", `cannot read table ${NFT_FAMILY} ${NFT_TABLE}: ${read.error}`, "install nftables and run weft doctor as root")];
  if (read.value === null) return [fail(node, "nftables", `table ${NFT_FAMILY} ${NFT_TABLE} is missing: no forward accept, no masquerade`, RESYNC)];
  if (s === undefined) return [ok(node, "nftables", `table ${NFT_FAMILY} ${NFT_TABLE} present`)];
  const chains = nftChains({ nftables: read.value }).map((c) => ({ hook: c.hook, rules: c.rules.map((expr) => JSON.stringify(expr)) }));
  const cidr = parsePrefix(s.network);
  const forward = chains.find((c) => c.hook === "forward");
  if (forward === undefined || !acceptsCidr(forward.rules, cidr)) {
    return [fail(node, "nftables", `table ${NFT_FAMILY} ${NFT_TABLE} has no forward rule accepting ${s.network}: a drop policy elsewhere can drop pod traffic`, RESYNC)];
  }
  const masquerades = chains.some((c) => c.hook === "postrouting" && c.rules.some((r) => r.includes('"masquerade"')));
  if (s.ipMasq && !masquerades) {
    return [fail(node, "nftables", `masquerade is on but table ${NFT_FAMILY} ${NFT_TABLE} has no masquerade rule: pod traffic leaving the cluster keeps its pod source address`, RESYNC)];
  }
  const others = node.kernel.forwardChains;
  if (!others.ok) return [fail(node, "nftables", `cannot read the nftables ruleset: ${others.error}`, "install nftables and run weft doctor as root")];
  const dropping = droppingPodTraffic(others.value, cidr);
  if (dropping.length > 0) {
    const c = dropping[0]!;
    const chain = `${c.family} ${c.table} ${c.name}`;
    const insert = (field: string) => `nft insert rule ${chain} ip ${field} ${s.network} accept`;
    return [
      fail(
        node,
        "nftables",
        `chain ${chain} (not weft's) has policy drop and does not accept ${s.network}: it drops pod traffic crossing this node, whatever table ${NFT_FAMILY} ${NFT_TABLE} accepts (an accept ends only its own chain)${dropping.length > 1 ? `; so do ${dropping.length - 1} more such chain${dropping.length > 2 ? "s" : ""}` : ""}`,
        `${node.onNode(insert("saddr"))} && ${node.onNode(insert("daddr"))}; on a Docker host, which rebuilds that chain when it restarts, put the two accepts in its DOCKER-USER chain instead (iptables -I DOCKER-USER -s ${s.network} -j ACCEPT, and -d)`,
      ),
    ];
  }
  return [ok(node, "nftables", `table ${NFT_FAMILY} ${NFT_TABLE}: forward accepts ${s.network}${s.ipMasq ? ", masquerade on" : ""}`)];
};
