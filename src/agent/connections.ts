/**
 * Measures the pod network to every peer, as `/connections` serves it: two
 * pings that travel the way pod traffic does. One small ping says whether
 * the peer answers and how fast; one at the full pod MTU with
 * don't-fragment set says whether a full-size pod packet gets through (the
 * classic vxlan failure: small packets work, large ones vanish because the
 * underlay MTU is too small).
 *
 * The target is what every peer holds as soon as its agent runs, whether or
 * not it has pods yet (its bridge only appears with its first pod):
 *   vxlan    the peer's VTEP address (its subnet's network address on
 *            weft.<VNI>): the ping goes through our route, neighbour and FDB
 *            entry, encapsulated, exactly as a pod's packet would;
 *   host-gw  the peer's public IP: what host-gw needs is that address to be
 *            a direct neighbour on the underlay, at the full MTU.
 *
 * Runs `ping` through the Runner, so it acts on the runner's namespace (the
 * agent's node namespace); every peer and both probes run at once, so the
 * whole measurement takes about one timeout (1 s) at most.
 */
import { WeftError } from "../lib/errors.ts";
import { formatIp, parsePrefix } from "../lib/ipv4.ts";
import type { ExecResult, Runner } from "../kernel/runner.ts";
import type { AgentStatus, ConnectionStatus, PeerStatus } from "./status.ts";

/** Seconds a probe waits for its reply. */
const TIMEOUT_SECONDS = 1;
/** IPv4 header (20) plus ICMP header (8): what `ping -s` does not count. */
const ICMP_OVERHEAD = 28;

/** Error code: connections were asked for before the backend set the pod MTU. */
export const AGENT_NOT_SET_UP = "AGENT_NOT_SET_UP";

/** What one ping told. */
export interface PingOutcome {
  /** A reply came back. */
  replied: boolean;
  /** Its round-trip time in ms, when the output shows one. */
  rttMs: number | null;
  /** Why there was no reply, in ping's words where it gave any. */
  error: string | null;
}

/** Pings every peer in `status` (see the file comment). */
export async function measureConnections(runner: Runner, status: AgentStatus): Promise<ConnectionStatus[]> {
  const mtu = status.mtu;
  if (mtu === null) {
    throw new WeftError(AGENT_NOT_SET_UP, `cannot measure connections on ${status.node}: the backend is not set up yet (no pod MTU)`, {
      hint: "wait for the agent to become ready (weft status shows what it is missing)",
    });
  }
  return Promise.all(status.peers.map((peer) => measurePeer(runner, peer, mtu)));
}

async function measurePeer(runner: Runner, peer: PeerStatus, mtu: number): Promise<ConnectionStatus> {
  const target = peer.backend === "vxlan" ? formatIp(parsePrefix(peer.subnet, `subnet of peer ${peer.node}`).base) : peer.publicIp;
  const base = ["ping", "-n", "-c", "1", "-W", String(TIMEOUT_SECONDS)];
  const [small, full] = await Promise.all([
    runner.exec([...base, target]),
    runner.exec([...base, "-M", "do", "-s", String(mtu - ICMP_OVERHEAD), target]),
  ]);
  const reach = parsePing(small);
  const fit = parsePing(full);
  const error = reach.error ?? (fit.replied ? null : `a ${mtu}-byte don't-fragment ping got no reply${fit.error ? ` (${fit.error})` : ""}: the path MTU is smaller than the pod MTU`);
  return {
    node: peer.node,
    publicIp: peer.publicIp,
    subnet: peer.subnet,
    backend: peer.backend,
    target,
    reachable: reach.replied,
    rttMs: reach.replied ? reach.rttMs : null,
    mtu,
    mtuOk: fit.replied,
    error,
  };
}

/**
 * Reads a finished `ping -c 1` (iputils or busybox).
 * A reply is the exit status 0 together with a received count or a reply
 * line; the RTT comes from the reply line or the rtt/round-trip summary.
 */
export function parsePing(r: ExecResult): PingOutcome {
  const out = r.stdout;
  const received = /(\d+) (?:packets )?received/.exec(out);
  const replied = r.code === 0 && (received ? Number(received[1]) > 0 : /bytes from /.test(out));
  const rtt = /\btime[=<]\s*([\d.]+)\s*ms/.exec(out) ?? /(?:rtt|round-trip) min\/avg\/max(?:\/mdev)? = [\d.]+\/([\d.]+)\//.exec(out);
  if (replied) return { replied, rttMs: rtt ? Number(rtt[1]) : null, error: null };
  return { replied, rttMs: null, error: whyNoReply(r) };
}

/** ping's own words for a failure (stderr, then `From … ` lines), or a timeout. */
function whyNoReply(r: ExecResult): string {
  const stderr = r.stderr
    .split("\n")
    .map((l) => l.replace(/^ping: /, "").trim())
    .filter((l) => l !== "");
  if (stderr.length > 0) return stderr.join("; ");
  const from = /^From \S+ (?:icmp_seq=\d+ )?(.+)$/m.exec(r.stdout);
  if (from) return from[1]!.trim();
  return `no reply within ${TIMEOUT_SECONDS} s`;
}
