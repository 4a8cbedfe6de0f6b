/**
 * The node agent: one long-running process per node (`weft agent`).
 *
 * Start-up, in order:
 *   1. choose the underlay interface and the address to advertise (iface.ts);
 *   2. serve the API (unix socket RUN_DIR/agent.sock), so /healthz answers
 *      even while the store is unreachable;
 *   3. lease a subnet (lease.ts), retrying with backoff while the store is down;
 *   4. set up the backend's device and publish what peers need of it
 *      (e.g. the VTEP MAC) in the lease;
 *   5. forwarding and the nftables table `weft` (masquerade.ts);
 *   6. write the subnet file, which lets the CNI plugin give pods addresses;
 *   7. list the leases, program every peer, then follow the store's watch
 *      (an event writes only what it changed: peers.ts).
 * The service proxy's and network policy's informers start with step 3
 * (they need the API server, not the lease), so their first lists overlap
 * the lease and the backend; the proxy is made once the subnet is leased.
 * Everything that can be checked without a lease (the directories, the
 * underlay, --mtu against it) is checked before leasing, so a bad option
 * leaves no lease behind. A start that fails after leasing releases a lease
 * it took anew, and never leaves a subnet file naming a subnet this node
 * does not hold.
 * Ready (/readyz) once the lease is held, the backend has reconciled and the
 * subnet file is written.
 *
 * Running: renews the lease every third of its TTL; resyncs every
 * --resync-interval (device, table, subnet file, then every peer's entries,
 * so deleted routes, neighbours and FDB entries come back). IP forwarding is
 * turned on at start but not forced back later: if something else turns it
 * off, the agent logs it once and `weft doctor` reports it, rather than
 * fighting whoever did.
 *
 * Stopping (SIGTERM) leaves the data plane, the subnet file and the lease in
 * place, so pods keep talking while the agent restarts; a restarted agent
 * renews the same lease. `weft agent --cleanup` (cleanup.ts) removes it all.
 */
import { readFileSync, rmSync } from "node:fs";
import { VERSION } from "../lib/version.ts";
import { createBackend } from "../backend/registry.ts";
import type { Backend, LocalNode, SetupResult } from "../backend/types.ts";
import { makeDirs } from "../lib/dirs.ts";
import { describeError, WeftError } from "../lib/errors.ts";
import { formatIp, formatPrefix, parsePrefix, type Prefix } from "../lib/ipv4.ts";
import type { IpLink } from "../kernel/json.ts";
import { createRunner, readJson, type Runner } from "../kernel/runner.ts";
import { createStore } from "../store/registry.ts";
import { LEASE_LOST, type Lease, type LeaseAttrs, type SubnetStore } from "../store/types.ts";
import { formatSubnetFile, readSubnetFile, writeSubnetFile } from "../subnet/file.ts";
import { startApi, type ServicesStatus } from "./api.ts";
import { ServiceProxyComponent } from "../proxy/component.ts";
import { PolicyComponent } from "../policy/component.ts";
import { agentPaths, storeOptions, type AgentConfig, type AgentPaths } from "./config.ts";
import { measureConnections } from "./connections.ts";
import { hostNetworksOf, overlapWarnings } from "./host-networks.ts";
import { findUnderlay, type Underlay } from "./iface.ts";
import { renewIntervalMs, type LeaseOrigin, type SubnetRange } from "../store/acquire.ts";
import { ensureMasquerade, MasqueradeTable, NFT_FAMILY, NFT_TABLE, type MasqueradeOptions } from "./masquerade.ts";
import { PeerSync } from "./peers.ts";
import { backoffMs, isTransient, StoreHealth } from "./retry.ts";
import { sleep } from "../lib/sleep.ts";
import type { AgentStatus, ConnectionStatus } from "./status.ts";


/** Error code: --mtu asks for more than the underlay can carry. */
export const MTU_TOO_LARGE = "MTU_TOO_LARGE";

/** What the agent is made of; tests may pass their own. */
export interface AgentDeps {
  /** Where kernel tools run. Default: this process's namespace. */
  runner?: Runner;
  /** Where log lines go. Default: stderr with a timestamp. */
  log?: (line: string) => void;
}

/** One running agent. */
export class Agent {
  readonly config: AgentConfig;
  readonly paths: AgentPaths;
  readonly #runner: Runner;
  readonly #log: (line: string) => void;
  readonly #store: SubnetStore;
  readonly #backend: Backend;
  readonly #health: StoreHealth;
  readonly #peers: PeerSync;
  readonly #abort = new AbortController();
  readonly #startedAt = new Date().toISOString();
  #underlay: Underlay | undefined;
  /** Host networks no node subnet may overlap (host-networks.ts). */
  #avoid: Prefix[] = [];
  #lease: Lease | undefined;
  #setup: SetupResult | undefined;
  #subnetFileWritten = false;
  #forwardingOff = false;
  /** Table ip weft, written only when it differs from what the agent wrote last. */
  readonly #nftTable = new MasqueradeTable();
  /** The store has been told the data plane is programmed (#announceProgrammed). */
  #announced = false;
  #stopWatch: (() => void) | undefined;
  #api: { close(): Promise<void> } | undefined;
  #serviceProxy: ServiceProxyComponent | undefined;
  #policy: PolicyComponent | undefined;
  /** The start of the service proxy and policy, under way from before the lease. */
  #components: Promise<void> | undefined;
  readonly #timers: NodeJS.Timeout[] = [];
  #stopped: Promise<void> | undefined;

  constructor(config: AgentConfig, deps: AgentDeps = {}) {
    this.config = config;
    this.paths = agentPaths(config);
    this.#runner = deps.runner ?? createRunner();
    this.#log = deps.log ?? ((line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`));
    this.#store = createStore(config.store, storeOptions(config));
    this.#backend = createBackend(config.backend, { runner: this.#runner, vni: config.vxlanVni, port: config.vxlanPort });
    this.#health = new StoreHealth(`${config.store} store ${this.#store.location}`, this.#log);
    this.#peers = new PeerSync({
      backend: this.#backend,
      self: () => ({ node: config.nodeName, subnet: this.#lease?.subnet ?? null, backend: config.backend }),
      log: this.#log,
      repair: (err) => this.#repairBackend(err),
    });
  }

  /** Starts the agent; resolves once it is ready. Throws a WeftError on what retrying cannot fix. */
  async start(): Promise<void> {
    const c = this.config;
    makeDirs(c.runDir, "--run-dir");
    makeDirs(c.stateDir, "--state-dir");
    const links = await readJson<IpLink[]>(this.#runner, ["ip", "-j", "addr"]);
    // Told nothing about the underlay, the agent takes the address the cluster records for the node.
    const told = c.iface.length > 0 || c.ifaceRegex.length > 0 || c.ifaceCanReach !== undefined || c.publicIp !== undefined;
    const recorded = told ? undefined : await this.#withRetry("reading this node's address", () => this.#store.nodeAddress(c.nodeName));
    if (recorded !== undefined) this.#log(`choosing the underlay by ${recorded}, the address the ${c.store} store records for ${c.nodeName}`);
    this.#underlay = await findUnderlay(this.#runner, {
      iface: recorded !== undefined ? [recorded] : c.iface, ifaceRegex: c.ifaceRegex,
      ...(c.ifaceCanReach !== undefined && { ifaceCanReach: c.ifaceCanReach }),
      ...(c.publicIp !== undefined && { publicIp: c.publicIp }),
    }, links);
    this.#checkMtu(this.#underlay.mtu, this.#underlay.name);
    const previous = this.#previousSubnet();
    const networks = hostNetworksOf(links).filter((n) => previous === undefined || formatPrefix(n.network) !== previous);
    for (const line of overlapWarnings(c.podCidr, networks)) this.#log(line);
    this.#avoid = networks.map((n) => n.network);
    this.#log(`weft agent ${VERSION} on node ${c.nodeName}: underlay ${this.#underlay.name} ${this.#underlay.ip} (MTU ${this.#underlay.mtu}), ${c.backend} backend, ${c.store} store ${this.#store.location}`);
    this.#api = await startApi({
      status: () => this.status(),
      connections: () => this.connections(),
      componentMetrics: async () => (this.#serviceProxy?.metricsText() ?? "") + ((await this.#policy?.metricsText()) ?? ""),
      services: () => this.#servicesStatus(),
      policy: () => this.#policy?.status(),
      policyExplain: (q) => this.#policy?.explain(q),
      policyPodAdded: (p) => this.#policy?.podAdded(p.namespace, p.name, p.ip),
    }, {
      socketPath: this.paths.socket,
      ...(c.apiPort !== undefined && { tcpPort: c.apiPort }),
    });

    // The service proxy and policy start now, beside the lease: their informers need only the API
    // server, so they list while the node leases and sets up its backend, and the first sync
    // follows the lease at once. The proxy is made once the subnet is known.
    const subnet = Promise.withResolvers<string>();
    subnet.promise.catch(() => {}); // with the proxy off nothing awaits it; a failed start is reported below
    const components = (this.#components = this.#startComponents(subnet.promise));
    components.catch(() => {}); // awaited below; a failure before then is not unhandled
    let taken: LeaseOrigin | undefined;
    try {
      const acquired = await this.#withRetry("leasing a subnet", () => this.#acquire());
      [this.#lease, taken] = [acquired.lease, acquired.origin];
      subnet.resolve(this.#lease.subnet);
      await this.#setUpDataPlane();
    } catch (err) {
      subnet.reject(err);
      if (!this.#abort.signal.aborted) await this.#abandonStart(taken === "new" ? this.#lease : undefined);
      throw err;
    }
    this.#peers.seed(await this.#withRetry("listing the leases", () => this.#store.list()));
    await this.#peers.reconcileNow();
    await this.#announceProgrammed();
    this.#stopWatch = this.#store.watch(
      (event) => {
        this.#health.ok();
        this.#peers.onEvent(event);
      },
      (err) => this.#storeFailed(err, "watching the leases"),
    );
    await components;
    this.#every(c.resyncInterval * 1000, () => this.resync());
    this.#scheduleRenew(renewIntervalMs(c.leaseTtl));
    this.#log(`ready: ${this.#lease.subnet} (pod MTU ${this.#podMtu()}), ${this.#peers.peers().peers.length} peers`);
  }

  /** The service proxy's state for /services, or null without one. */
  #servicesStatus(): ServicesStatus | null {
    if (!this.config.serviceProxy) return null;
    const proxy = this.#serviceProxy?.proxy;
    if (proxy === undefined) return { synced: false, lastSync: null, ports: [] };
    return { synced: proxy.synced, lastSync: proxy.lastSync() ?? null, ports: proxy.servicePorts() };
  }

  /** The live report the API serves. */
  status(): AgentStatus {
    const c = this.config;
    const lease = this.#lease;
    const subnet = lease ? parsePrefix(lease.subnet) : undefined;
    const readiness = { lease: lease !== undefined, backend: this.#setup !== undefined && this.#peers.reconciled, subnetFile: this.#subnetFileWritten };
    return {
      node: c.nodeName,
      version: VERSION,
      pid: process.pid,
      startedAt: this.#startedAt,
      ready: readiness.lease && readiness.backend && readiness.subnetFile,
      readiness,
      network: c.podCidr,
      subnet: lease?.subnet ?? null,
      gateway: subnet ? formatIp(subnet.base + 1) : null,
      publicIp: this.#underlay?.ip ?? "",
      underlay: { name: this.#underlay?.name ?? "", mtu: this.#underlay?.mtu ?? 0 },
      mtu: this.#setup ? this.#podMtu() : null,
      backend: c.backend,
      backendData: this.#setup?.backendData ?? {},
      ipMasq: c.ipMasq,
      leaseExpiresAt: lease?.expiresAt ?? null,
      store: { name: c.store, location: this.#store.location, healthy: this.#health.healthy, lastError: this.#health.lastError },
      peers: this.#peers.peerStatus(),
      reconcile: this.#peers.stats(),
      paths: { ...this.paths },
    };
  }

  /** Measures every peer over the backend (the API's /connections). */
  connections(): Promise<ConnectionStatus[]> {
    return measureConnections(this.#runner, this.status());
  }

  /**
   * Repairs drift: the device, the nftables table and the subnet file are
   * put back as they should be, then every peer's entries.
   */
  async resync(): Promise<void> {
    if (this.#abort.signal.aborted || !this.#lease) return;
    try {
      await this.#ensureBackend();
      if (await this.#nftTable.ensure(this.#runner, this.#nftOptions())) this.#log(`table ${NFT_FAMILY} ${NFT_TABLE} differed from what the agent wrote (changed by something else); wrote it again`);
      this.#writeSubnetFile();
      await this.#checkForwarding();
    } catch (err) {
      this.#log(`resync: ${describeError(err)}`);
    }
    await this.#peers.reconcileNow();
    if (!this.#announced) await this.#announceProgrammed();
  }

  /** Stops everything the process runs and leaves the data plane in place. Safe to call twice. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#abort.abort();
      for (const t of this.#timers) clearTimeout(t);
      this.#stopWatch?.();
      await this.#components?.catch(() => {}); // a start under way ends (the lease's retry sees the abort) before its parts stop
      await this.#serviceProxy?.stop();
      await this.#policy?.stop();
      await this.#peers.stop();
      await this.#api?.close();
      await this.#store.close();
    })();
    return this.#stopped;
  }

  /** The service proxy (when on) and network policy; `subnet` is the node's, once leased. */
  async #startComponents(subnet: Promise<string>): Promise<void> {
    await Promise.all([this.config.serviceProxy ? this.#startServiceProxy(subnet) : undefined, this.#startPolicy()]);
  }

  /** The service proxy component (src/proxy): its informers at once, the proxy once the node's subnet is known (its pods are the ones externalTrafficPolicy Local keeps internal). */
  async #startServiceProxy(subnet: Promise<string>): Promise<void> {
    const c = this.config;
    this.#serviceProxy = await ServiceProxyComponent.start({
      nodeName: c.nodeName, nodePodCidr: subnet, clusterCidr: c.podCidr, serviceCidr: c.serviceCidr,
      kubeconfig: c.kubeconfig, runner: this.#runner, log: (line) => this.#log(`service proxy: ${line}`),
    });
  }

  /** Network policy (src/policy), on by default wherever there is a Kubernetes API to read policies from. */
  async #startPolicy(): Promise<void> {
    const c = this.config;
    if (!c.networkPolicy) return;
    if (c.store !== "kubernetes" && c.kubeconfig === undefined) {
      this.#log(`network policy: not enforced: no Kubernetes API (the ${c.store} store and no --kubeconfig)`);
      return;
    }
    this.#policy = await PolicyComponent.start({
      nodeName: c.nodeName, strict: c.strictPolicy, kubeconfig: c.kubeconfig, runner: this.#runner, log: (line) => this.#log(`network policy: ${line}`),
    });
  }

  #attrs(): LeaseAttrs {
    return {
      node: this.config.nodeName,
      publicIp: this.#underlay!.ip,
      backend: this.config.backend,
      backendData: this.#setup?.backendData ?? this.#lease?.attrs.backendData ?? {},
    };
  }

  #range(): SubnetRange {
    const c = this.config;
    return { podCidr: c.podCidr, subnetLen: c.subnetLen, subnetMin: c.subnetMin, subnetMax: c.subnetMax, avoid: this.#avoid };
  }

  /** The subnet in the subnet file a previous run left, if any. */
  #previousSubnet(): string | undefined {
    try {
      return formatPrefix(readSubnetFile(this.paths.subnetFile).subnet);
    } catch {
      return undefined;
    }
  }

  /**
   * After a failed start: releases `taken` (a lease this start made), then
   * removes the subnet file unless the store holds this node's lease on
   * the subnet it names, so the plugin stops handing out addresses of a
   * subnet another node may lease next.
   */
  async #abandonStart(taken: Lease | undefined): Promise<void> {
    try {
      if (taken) {
        await this.#store.release(taken.subnet, this.config.nodeName);
        this.#log(`released ${taken.subnet}, leased by this failed start`);
      }
      const inFile = this.#previousSubnet();
      if (inFile === undefined) return;
      if ((await this.#leaseHeld(inFile)) === false) this.#removeSubnetFile(`this node holds no lease on ${inFile}`);
    } catch (err) {
      this.#log(`cleaning up after the failed start: ${describeError(err)}`);
    }
  }

  #removeSubnetFile(why: string): void {
    rmSync(this.paths.subnetFile, { force: true });
    this.#subnetFileWritten = false;
    this.#log(`removed ${this.paths.subnetFile}: ${why}; the CNI plugin adds no pods until a subnet is leased`);
  }

  async #acquire(): Promise<{ lease: Lease; origin: LeaseOrigin }> {
    const previous = this.#previousSubnet();
    const { lease, origin } = await this.#store.acquire({
      range: this.#range(),
      attrs: this.#attrs(),
      // A renewal by this running agent keeps what its device publishes; a
      // new lease, or the first renewal after a restart, carries what setup
      // will make, so peers of a new node need no second write.
      dataFor: (subnet) => (subnet === this.#lease?.subnet && this.#setup ? this.#setup.backendData : this.#backend.announce(subnet)),
      ttlSeconds: this.config.leaseTtl,
      previous: this.#lease?.subnet ?? previous,
      log: this.#log,
    });
    const how = { renewed: "renewed its lease on", previous: "leased its previous subnet", new: "leased", assigned: "was assigned" }[origin];
    const until = origin === "assigned" ? "" : ` until ${new Date(lease.expiresAt).toISOString()}`;
    this.#log(`${this.config.nodeName} ${how} ${lease.subnet}${until}`);
    return { lease, origin };
  }

  /** Tells the store the node's data plane is programmed (kubernetes: NetworkUnavailable=False); a failure is logged and retried at the next resync. */
  async #announceProgrammed(): Promise<void> {
    try {
      await this.#store.programmed(this.#lease!);
      this.#announced = true;
    } catch (err) {
      this.#log(`telling the ${this.config.store} store the node is programmed failed: ${describeError(err)}; trying again at the next resync`);
    }
  }

  /** Whether the store holds this node's lease on `subnet`; undefined when the store cannot say. */
  async #leaseHeld(subnet: string): Promise<boolean | undefined> {
    try {
      return (await this.#store.list()).some((l) => l.attrs.node === this.config.nodeName && l.subnet === subnet);
    } catch {
      return undefined;
    }
  }

  /** Throws MTU_TOO_LARGE when --mtu exceeds what the backend carries over an underlay of `underlayMtu`. */
  #checkMtu(underlayMtu: number, iface: string): void {
    const most = this.#backend.podMtu(underlayMtu);
    if (this.config.mtu !== undefined && this.config.mtu > most) {
      throw new WeftError(MTU_TOO_LARGE, `--mtu ${this.config.mtu} is more than the ${this.config.backend} backend can carry over ${iface} (MTU ${underlayMtu}): at most ${most}`, {
        hint: `use --mtu ${most} or less, or leave it out`,
      });
    }
  }

  /** Backend, lease attrs, forwarding and masquerade, subnet file: everything a pod needs from this node. */
  async #setUpDataPlane(): Promise<void> {
    await this.#ensureBackend();
    await ensureMasquerade(this.#runner, this.#nftOptions(), this.#nftTable);
    this.#writeSubnetFile();
  }

  /** What the nftables table depends on: the cluster CIDR, masquerade, and the tunnel port that goes untracked. */
  #nftOptions(): MasqueradeOptions {
    const { podCidr: clusterCidr, ipMasq, backend, vxlanPort } = this.config;
    return backend === "vxlan" ? { clusterCidr, ipMasq, vxlanPort } : { clusterCidr, ipMasq };
  }

  /** Sets the backend up for our lease (idempotent) and republishes its data when it changed. */
  async #ensureBackend(): Promise<void> {
    const lease = this.#lease!;
    const local: LocalNode = { subnet: lease.subnet, publicIp: this.#underlay!.ip, underlayIface: this.#underlay!.name, underlayMtu: this.#underlay!.mtu };
    this.#checkMtu(local.underlayMtu, local.underlayIface);
    const setup = await this.#backend.setup(local);
    this.#setup = setup;
    if (!sameData(lease.attrs.backendData, setup.backendData) || lease.attrs.publicIp !== local.publicIp) {
      this.#lease = await this.#withRetry("publishing the backend data", () => this.#store.renew(lease.subnet, this.#attrs(), this.config.leaseTtl));
    }
  }

  async #repairBackend(err: unknown): Promise<void> {
    this.#log(`the ${this.config.backend} backend needs setting up again: ${describeError(err)}`);
    await this.#ensureBackend();
  }

  #podMtu(): number {
    return this.config.mtu ?? this.#setup!.mtu;
  }

  /** Writes the subnet file when its content would change (atomically). */
  #writeSubnetFile(): void {
    const subnet = parsePrefix(this.#lease!.subnet);
    const content = { network: parsePrefix(this.config.podCidr), subnet, gateway: subnet.base + 1, mtu: this.#podMtu(), ipMasq: this.config.ipMasq };
    let current = "";
    try {
      current = readFileSync(this.paths.subnetFile, "utf8");
    } catch {
      // absent: written below
    }
    if (current !== formatSubnetFile(content)) writeSubnetFile(this.paths.subnetFile, content);
    this.#subnetFileWritten = true;
  }

  async #checkForwarding(): Promise<void> {
    const off = (await this.#readForwarding()) === "0";
    if (off && !this.#forwardingOff) {
      this.#log("net.ipv4.ip_forward is 0 on this node: pod traffic cannot cross it. weft turned it on at start; something has turned it off since. Fix: sysctl -w net.ipv4.ip_forward=1 (and find what reset it)");
    } else if (!off && this.#forwardingOff) {
      this.#log("net.ipv4.ip_forward is on again");
    }
    this.#forwardingOff = off;
  }

  /**
   * net.ipv4.ip_forward where the runner acts, or undefined when it cannot
   * be read. A runner bound to no namespace acts on this process's own,
   * whose /proc/sys/net is read in place: one process fewer every resync.
   */
  async #readForwarding(): Promise<string | undefined> {
    if (this.#runner.netns === undefined) {
      try {
        return readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim();
      } catch {
        return undefined;
      }
    }
    const r = await this.#runner.exec(["sysctl", "-n", "net.ipv4.ip_forward"]);
    return r.code === 0 ? r.stdout.trim() : undefined;
  }

  /** Renews the lease every `intervalMs`; a lost lease is leased again (and the data plane moved if the subnet changed). */
  #scheduleRenew(intervalMs: number): void {
    const timer = setTimeout(async () => {
      this.#timers.splice(this.#timers.indexOf(timer), 1);
      let next = renewIntervalMs(this.config.leaseTtl);
      if (!this.#lease) {
        // Lost earlier and not leased again: try again now.
        await this.#releaseAndReacquire();
        if (!this.#abort.signal.aborted) this.#scheduleRenew(this.#lease ? next : Math.min(backoffMs(6), next));
        return;
      }
      try {
        this.#lease = await this.#store.renew(this.#lease.subnet, this.#attrs(), this.config.leaseTtl);
        this.#health.ok();
      } catch (err) {
        if (isTransient(err)) {
          this.#storeFailed(err, "renewing the lease");
          next = Math.min(backoffMs(4), next);
        } else if (err instanceof WeftError && err.code === LEASE_LOST) {
          this.#log(`${describeError(err)}; leasing again`);
          await this.#releaseAndReacquire();
        } else {
          this.#log(`renewing the lease failed: ${describeError(err)}`);
          next = Math.min(backoffMs(4), next);
        }
      }
      if (!this.#abort.signal.aborted) this.#scheduleRenew(next);
    }, intervalMs);
    this.#timers.push(timer);
  }

  async #releaseAndReacquire(): Promise<void> {
    const before = this.#lease?.subnet;
    try {
      this.#lease = (await this.#withRetry("leasing a subnet", () => this.#acquire())).lease;
      if (before !== undefined && this.#lease.subnet !== before) {
        this.#log(`the node subnet moved from ${before} to ${this.#lease.subnet}: pods made before keep addresses of ${before} and need restarting`);
      }
      await this.#setUpDataPlane();
      this.#peers.request("full");
      await this.#announceProgrammed();
    } catch (err) {
      this.#log(`cannot lease a subnet again: ${describeError(err)}`);
      // The lease is lost: another node may hold its subnet now.
      if (before !== undefined && (await this.#leaseHeld(before)) === false) {
        this.#lease = undefined;
        this.#removeSubnetFile(`the lease on ${before} is lost`);
      }
    }
  }

  /**
   * Records a store failure and, once per outage, starts probing the store
   * with backoff, so its return is noticed (and logged) even when nothing
   * changed in it meanwhile.
   */
  #storeFailed(err: unknown, doing: string): void {
    const wasHealthy = this.#health.healthy;
    this.#health.failed(err, doing);
    if (!wasHealthy) return;
    void (async () => {
      for (let attempt = 0; !this.#health.healthy && !this.#abort.signal.aborted; attempt++) {
        await sleep(backoffMs(attempt), this.#abort.signal);
        try {
          await this.#store.list();
          this.#health.ok();
        } catch (e) {
          this.#health.failed(e, "probing the store");
        }
      }
    })();
  }

  /** Runs `fn`, retrying with backoff while the store is unavailable; other errors propagate. */
  async #withRetry<T>(doing: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.#abort.signal.aborted) throw new WeftError("AGENT_STOPPED", `the agent stopped while ${doing}`);
      try {
        const result = await fn();
        this.#health.ok();
        return result;
      } catch (err) {
        if (!isTransient(err)) throw err;
        this.#health.failed(err, doing); // this loop is the probe: no second one
        await sleep(backoffMs(attempt), this.#abort.signal);
      }
    }
  }

  #every(ms: number, fn: () => Promise<void>): void {
    const tick = () => {
      const timer = setTimeout(async () => {
        this.#timers.splice(this.#timers.indexOf(timer), 1);
        await fn();
        if (!this.#abort.signal.aborted) tick();
      }, ms);
      this.#timers.push(timer);
    };
    tick();
  }
}

function sameData(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}
