/**
 * What `weft trace` knows about the kernel: the tables of every namespace on
 * a pod-to-pod path, as read by read.ts, and the route lookups made for the
 * path's addresses. Plain data, so the hop list (path.ts) is a pure function
 * of it and unit tests can write facts by hand.
 *
 * The shapes are the parts of iproute2's and nft's JSON that trace reads;
 * they extend kernel/json.ts with the fields only trace needs (bridge port
 * data, veth peers, route lookups' `iif`).
 */
import type { AddrInfo, FdbEntry, IpLink, IpNeigh, IpRoute } from "../kernel/json.ts";
import { contains, formatIp, formatPrefix, parsePrefix, tryParseIp } from "../lib/ipv4.ts";
import type { PolicyFacts } from "./policy.ts";

/** One link of `ip -d -j addr show`, with what trace reads beyond kernel/json.ts. */
export interface LinkFacts extends IpLink {
  /** The bridge the link is a port of. */
  master?: string;
  /** A veth's peer ifindex (in the peer's namespace). */
  link_index?: number;
  operstate?: string;
  linkinfo?: {
    info_kind?: string;
    info_data?: Record<string, unknown>;
    info_slave_kind?: string;
    info_slave_data?: { state?: string; hairpin?: boolean };
  };
}

/** One entry of `ip -j neigh show` over all devices. */
export interface NeighFacts extends IpNeigh {
  dev?: string;
}

/** One entry of `bridge -j fdb show` over all devices. */
export interface FdbFacts extends FdbEntry {
  ifname?: string;
}

/** The result of one `ip -j route get …`: the route the kernel chose, or the error it gave. */
export interface Lookup {
  /** The command's arguments after `ip route get`, for messages. */
  query: string;
  route: (IpRoute & { from?: string; iif?: string }) | null;
  /** The kernel's answer when it found no route, e.g. "No route to host". */
  error: string | null;
}

/** A chain hooked into forward in some nftables table. */
export interface ForwardChain {
  /** e.g. "ip weft forward". */
  name: string;
  policy: string;
  /** How many of its rules have a drop or reject verdict. */
  dropRules: number;
  /** Whether it accepts the cluster CIDR as source and as destination, so its drop policy spares pod traffic. */
  acceptsPods: boolean;
}

/** What a node's agent says in its /status: whether it is ready, and why it refuses a peer (by node name). */
export interface AgentView {
  ready: boolean;
  peerProblems: Record<string, string>;
}

/** A pod's namespace. */
export interface PodFacts {
  /** The pod's name in the lab. */
  name: string;
  /** The node it runs on, e.g. "node1". */
  node: string;
  netns: string;
  /** The pod's IP as the runtime recorded it. */
  ip: string;
  /** False when the namespace is gone (then `links` is empty). */
  present: boolean;
  links: LinkFacts[];
}

/** A node's namespace. */
export interface NodeFacts {
  name: string;
  netns: string;
  /** The node's underlay address (lab state). */
  underlayIp: string;
  /**
   * The underlay interface: the one holding `underlayIp`, else the one the
   * agents were told to use (`--iface`), else null.
   */
  underlayIface: string | null;
  /** The node agent's log, for hints. */
  agentLog: string;
  links: LinkFacts[];
  neighs: NeighFacts[];
  fdb: FdbFacts[];
  /** net.ipv4.ip_forward, e.g. "1". */
  ipForward: string;
  /** Every chain on the forward hook, over all tables. */
  forwardChains: ForwardChain[];
  /** The node agent's view, or null when it does not answer on its socket. */
  agent: AgentView | null;
}

/** The route lookups trace makes; only `podRoute` exists when both pods share a node. */
export interface PathLookups {
  /** In the source pod: `route get DST_POD`. */
  podRoute: Lookup;
  /** On the source node: `route get DST_POD from SRC_POD iif BRIDGE`. */
  forward?: Lookup;
  /** On the source node: `route get DST_NODE from SRC_NODE` (the underlay). */
  underlay?: Lookup;
  /** On the destination node: `route get DST_POD from SRC_POD iif INGRESS` (the backend's receiving device). */
  deliver?: Lookup;
}

/** Everything a trace is built from. */
export interface PathFacts {
  lab: string;
  backend: string;
  /** The node bridge's name (weft0). */
  bridge: string;
  from: PodFacts;
  to: PodFacts;
  /** The source pod's node. */
  src: NodeFacts;
  /** The destination pod's node; the same object as `src` when both pods share it. */
  dst: NodeFacts;
  lookups: PathLookups;
  /** The network policy's answers for the path (policy.ts); without them the path has no policy hops. */
  policy?: PolicyFacts;
}

/** The link called `name`, if any. */
export function linkNamed(links: readonly LinkFacts[], name: string): LinkFacts | undefined {
  return links.find((l) => l.ifname === name);
}

/** The link with index `ifindex`, if any. */
export function linkAt(links: readonly LinkFacts[], ifindex: number | undefined): LinkFacts | undefined {
  return ifindex === undefined ? undefined : links.find((l) => l.ifindex === ifindex);
}

/** A link's IPv4 addresses. */
export function inet(link: LinkFacts | undefined): AddrInfo[] {
  return (link?.addr_info ?? []).filter((a) => a.family === "inet");
}

/** Why a link does not carry traffic ("down", "no carrier"), or null when it is up with carrier. */
export function linkDown(link: LinkFacts): string | null {
  if (!link.flags.includes("UP")) return "down";
  if (!link.flags.includes("LOWER_UP")) return "up but has no carrier";
  return null;
}

/** A bridge's gateway address and the subnet it serves, from its first IPv4 address; null when it has none. */
export function bridgeAddress(links: readonly LinkFacts[], bridge: string): { ip: string; len: number; subnet: string; network: string } | null {
  const a = inet(linkNamed(links, bridge))[0];
  if (a === undefined) return null;
  const p = parsePrefix(`${a.local}/${a.prefixlen}`, "bridge address", false);
  return { ip: a.local, len: a.prefixlen, subnet: formatPrefix(p), network: formatIp(p.base) };
}

/** True when `ip` lies in the subnet `cidr`. */
export function inSubnet(cidr: string, ip: string): boolean {
  const n = tryParseIp(ip);
  return n !== undefined && contains(parsePrefix(cidr, "subnet", false), n);
}
