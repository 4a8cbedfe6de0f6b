/**
 * Choosing the underlay: the interface node-to-node traffic uses and the
 * IPv4 address this node advertises to its peers, as flannel chooses them.
 *
 * In order of precedence:
 *   --iface NAME|IP (repeatable)  the first entry that names an interface
 *                                 with an IPv4 address, or one of its addresses
 *   --iface-regex RE (repeatable) for each RE in order, the first interface
 *                                 (in `ip addr` order) with an address or a
 *                                 name RE matches (unanchored)
 *   --iface-can-reach ADDR        the interface and source address the
 *                                 kernel would use to reach ADDR
 *   --public-ip IP                the interface holding IP
 *   (none)                        the default route's interface, else the
 *                                 first non-loopback interface with IPv4
 * `--public-ip` combined with any of the first three must be an address of
 * the interface they chose, and is then the advertised address. No rule
 * ever chooses a loopback interface: it reaches no other node. Getting
 * this wrong is the classic failure: every node advertising the address of a
 * NAT interface they all share (10.0.2.15 on Vagrant), so no node reaches
 * another's pods.
 *
 * chooseUnderlay is the pure choice over `ip -j addr` and route output;
 * findUnderlay reads those in the Runner's namespace.
 */
import { WeftError } from "../lib/errors.ts";
import { parseIp, tryParseIp } from "../lib/ipv4.ts";
import type { IpLink, IpRoute } from "../kernel/json.ts";
import { readJson, type Runner } from "../kernel/runner.ts";

/** How to choose; all optional, see the file comment for precedence. */
export interface IfaceOptions {
  /** Interface names or IPv4 addresses, tried in order (`--iface`). Default none. */
  iface?: string[];
  /** Regular expressions over interface names and addresses, tried in order (`--iface-regex`). Default none. */
  ifaceRegex?: string[];
  /** An address; the interface used to reach it is chosen (`--iface-can-reach`). Default none. */
  ifaceCanReach?: string;
  /** The address to advertise (`--public-ip`). Default: the chosen interface's address. */
  publicIp?: string;
}

/** The chosen underlay. */
export interface Underlay {
  /** Interface name, e.g. eth0. */
  name: string;
  /** The IPv4 address this node advertises; one of the interface's. */
  ip: string;
  /** The interface's MTU. */
  mtu: number;
}

/** What the choice is made from. */
export interface UnderlayFacts {
  /** `ip -j addr`. */
  links: IpLink[];
  /** `ip -4 -j route show default` (read only when the choice falls through to it). */
  defaultRoutes?: IpRoute[];
  /** `ip -4 -j route get ADDR` for `ifaceCanReach`. */
  reach?: IpRoute[];
}

/** Error code: no interface fits what was asked. */
export const UNDERLAY_NOT_FOUND = "UNDERLAY_NOT_FOUND";

/** Chooses the underlay from `facts`; throws UNDERLAY_NOT_FOUND naming what was asked and what exists. */
export function chooseUnderlay(facts: UnderlayFacts, options: IfaceOptions): Underlay {
  const c = new Chooser(facts);
  if (options.iface?.length) return c.advertising(options.publicIp, `--iface ${options.iface.join(",")}`, c.byIface(options.iface));
  if (options.ifaceRegex?.length) return c.advertising(options.publicIp, `--iface-regex ${options.ifaceRegex.join(",")}`, c.byRegex(options.ifaceRegex));
  if (options.ifaceCanReach !== undefined) return c.advertising(options.publicIp, `--iface-can-reach ${options.ifaceCanReach}`, c.byReach(options.ifaceCanReach));
  if (options.publicIp !== undefined) return c.byPublicIp(options.publicIp);
  return c.byDefaultRoute();
}

/** The rules of chooseUnderlay over one set of facts. */
class Chooser {
  /** Interfaces with an IPv4 address. */
  readonly #links: IpLink[];
  readonly #facts: UnderlayFacts;

  constructor(facts: UnderlayFacts) {
    this.#facts = facts;
    this.#links = facts.links.filter((l) => ipv4Of(l).length > 0);
  }

  byIface(entries: string[]): Underlay {
    const loopback: string[] = [];
    for (const entry of entries) {
      const isIp = tryParseIp(entry) !== undefined;
      const link = this.#links.find((l) => (isIp ? ipv4Of(l).includes(entry) : l.ifname === entry));
      if (link && isLoopback(link)) loopback.push(entry);
      else if (link) return at(link, isIp ? entry : undefined);
    }
    const why = loopback.length > 0 ? ` (${loopback.join(", ")}: loopback, which reaches no other node)` : "";
    throw this.#notFound(`--iface ${entries.join(",")} matched no non-loopback interface with an IPv4 address${why}`, "name an interface (or one of its addresses) from the list");
  }

  byRegex(sources: string[]): Underlay {
    for (const source of sources) {
      const re = compile(source);
      for (const link of this.#usable()) {
        const ip = ipv4Of(link).find((a) => re.test(a));
        if (ip !== undefined || re.test(link.ifname)) return at(link, ip);
      }
    }
    throw this.#notFound(`--iface-regex ${sources.join(",")} matched no non-loopback interface with an IPv4 address`, "adjust the expression to match one of them");
  }

  byReach(target: string): Underlay {
    const route = this.#facts.reach?.[0];
    const link = this.#links.find((l) => l.ifname === route?.dev);
    if (link && isLoopback(link)) {
      throw this.#notFound(`--iface-can-reach ${target}: the route to it is the loopback interface ${link.ifname}, which reaches no other node`, "give the address of another node or of the underlay's gateway");
    }
    if (!route || !link) {
      throw this.#notFound(`--iface-can-reach ${target}: the route to it leaves by ${route?.dev ?? "no interface"}, which has no IPv4 address`, "give an address reachable over the underlay");
    }
    return at(link, route.prefsrc !== undefined && ipv4Of(link).includes(route.prefsrc) ? route.prefsrc : undefined);
  }

  byPublicIp(ip: string): Underlay {
    const link = this.#links.find((l) => ipv4Of(l).includes(ip));
    if (link && isLoopback(link)) throw this.#notFound(`--public-ip ${ip} is an address of the loopback interface ${link.ifname}, which peers cannot reach`, "advertise an address of the underlay interface");
    if (!link) throw this.#notFound(`--public-ip ${ip} is not an address of any interface`, "advertise an address this node holds, or choose the interface with --iface");
    return at(link, ip);
  }

  byDefaultRoute(): Underlay {
    const dev = this.#facts.defaultRoutes?.find((r) => r.dev !== undefined)?.dev;
    const usable = this.#usable();
    const link = usable.find((l) => l.ifname === dev) ?? usable[0];
    if (!link) throw this.#notFound("no non-loopback interface has an IPv4 address", "give the underlay an address, or choose it with --iface");
    return at(link);
  }

  /** `chosen`, advertising `publicIp` instead of its first address when given — which it must hold. */
  advertising(publicIp: string | undefined, asked: string, chosen: Underlay): Underlay {
    if (publicIp === undefined) return chosen;
    const held = ipv4Of(this.#links.find((l) => l.ifname === chosen.name)!);
    if (!held.includes(publicIp)) {
      throw new WeftError(UNDERLAY_NOT_FOUND, `--public-ip ${publicIp} is not an address of ${chosen.name} (chosen by ${asked}), which has ${held.join(", ")}`, {
        hint: "drop --public-ip, or choose the interface that holds it",
      });
    }
    return { ...chosen, ip: publicIp };
  }

  #usable(): IpLink[] {
    return this.#links.filter((l) => !isLoopback(l));
  }

  #notFound(asked: string, hint: string): WeftError {
    return new WeftError(UNDERLAY_NOT_FOUND, `${asked}; this node has ${describeLinks(this.#facts.links)}`, { hint });
  }
}

function isLoopback(link: IpLink): boolean {
  return link.flags.includes("LOOPBACK") || link.link_type === "loopback";
}

function at(link: IpLink, ip = ipv4Of(link)[0]!): Underlay {
  return { name: link.ifname, ip, mtu: link.mtu };
}

/**
 * Chooses the underlay in the Runner's namespace. `links` is its `ip -j addr`
 * when the caller has read it already (the agent reads it once for this and
 * for host-networks.ts); otherwise it is read here.
 */
export async function findUnderlay(runner: Runner, options: IfaceOptions, links?: IpLink[]): Promise<Underlay> {
  const facts: UnderlayFacts = { links: links ?? (await readJson<IpLink[]>(runner, ["ip", "-j", "addr"])) };
  const explicit = Boolean(options.iface?.length || options.ifaceRegex?.length);
  if (!explicit && options.ifaceCanReach !== undefined) {
    parseIp(options.ifaceCanReach, "--iface-can-reach address");
    const r = await runner.exec(["ip", "-4", "-j", "route", "get", options.ifaceCanReach]);
    if (r.code !== 0) {
      throw new WeftError(UNDERLAY_NOT_FOUND, `--iface-can-reach ${options.ifaceCanReach}: no route to it (${r.stderr.trim()})`, {
        hint: `give an address this node can reach (it has ${describeLinks(facts.links)})`,
      });
    }
    facts.reach = JSON.parse(r.stdout) as IpRoute[];
  } else if (!explicit && options.publicIp === undefined) {
    facts.defaultRoutes = await readJson<IpRoute[]>(runner, ["ip", "-4", "-j", "route", "show", "default"]);
  }
  return chooseUnderlay(facts, options);
}

function ipv4Of(link: IpLink): string[] {
  return (link.addr_info ?? []).filter((a) => a.family === "inet").map((a) => a.local);
}

function describeLinks(links: readonly IpLink[]): string {
  if (links.length === 0) return "no interfaces";
  return links.map((l) => `${l.ifname} (${ipv4Of(l).join(", ") || "no IPv4"})`).join(", ");
}

function compile(source: string): RegExp {
  try {
    return new RegExp(source);
  } catch (err) {
    throw new WeftError("INVALID_IFACE_REGEX", `--iface-regex "${source}" is not a valid regular expression`, {
      hint: "use JavaScript regular expression syntax, e.g. ^eth[0-9]+$",
      cause: err,
    });
  }
}
