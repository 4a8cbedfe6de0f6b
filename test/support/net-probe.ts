/**
 * A small network tool the proxy tests run inside their namespaces
 * (`ip netns exec NS node net-probe.ts …`); it prints one JSON line.
 *
 *   serve NAME TCP_PORTS UDP_PORTS   answers every TCP connection and UDP
 *                                    datagram with "NAME CLIENT_IP"; prints
 *                                    {"ready":true} and runs until killed or
 *                                    until its stdin closes (so a test that
 *                                    dies leaves no server behind)
 *   tcp HOST PORT COUNT [TIMEOUT_MS] COUNT fresh connections, one after
 *                                    the other
 *   udp HOST PORT COUNT [TIMEOUT_MS] [SRC_PORT]   COUNT datagrams, each from
 *                                    a fresh socket (or all from SRC_PORT)
 *   http URL [TIMEOUT_MS]            one GET: {"status":N,"body":"…"}
 *
 * Results: {"answers":{"NAME CLIENT_IP":n,…},"errors":{"ECONNREFUSED":n,…},"maxMs":…}.
 * Ports lists are comma-separated ("-" for none).
 */
import { createServer, connect } from "node:net";
import { createSocket } from "node:dgram";

const [mode, ...args] = process.argv.slice(2);

interface Tally {
  answers: Record<string, number>;
  errors: Record<string, number>;
  maxMs: number;
}

function tally(): Tally {
  return { answers: {}, errors: {}, maxMs: 0 };
}

function tcpOnce(host: string, port: number, timeoutMs: number): Promise<{ answer?: string; error?: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let got = "";
    const c = connect({ host, port });
    const done = (r: { answer?: string; error?: string }) => {
      clearTimeout(timer);
      c.destroy();
      resolve({ ...r, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => done({ error: "TIMEOUT" }), timeoutMs);
    c.on("data", (d) => (got += d));
    c.on("end", () => done({ answer: got.trim() }));
    c.on("error", (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
  });
}

function udpOnce(host: string, port: number, timeoutMs: number, srcPort: number | undefined): Promise<{ answer?: string; error?: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const s = createSocket({ type: "udp4", reuseAddr: srcPort !== undefined });
    const done = (r: { answer?: string; error?: string }) => {
      clearTimeout(timer);
      s.close();
      resolve({ ...r, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => done({ error: "TIMEOUT" }), timeoutMs);
    s.on("message", (m) => done({ answer: m.toString().trim() }));
    s.on("error", (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
    s.bind(srcPort ?? 0, () => s.connect(port, host, () => s.send("?")));
  });
}

async function repeat(n: number, one: () => Promise<{ answer?: string; error?: string; ms: number }>): Promise<Tally> {
  const t = tally();
  for (let i = 0; i < n; i++) {
    const r = await one();
    if (r.answer !== undefined) t.answers[r.answer] = (t.answers[r.answer] ?? 0) + 1;
    else t.errors[r.error!] = (t.errors[r.error!] ?? 0) + 1;
    t.maxMs = Math.max(t.maxMs, Math.round(r.ms * 10) / 10);
  }
  return t;
}

const ports = (s: string | undefined) => (!s || s === "-" ? [] : s.split(",").map(Number));

switch (mode) {
  case "serve": {
    const [name, tcp, udp] = args;
    let pending = 0;
    const ready = () => --pending === 0 && console.log(JSON.stringify({ ready: true }));
    for (const p of ports(tcp)) {
      pending++;
      createServer((c) => c.end(`${name} ${c.remoteAddress}\n`)).listen(p, "0.0.0.0", ready);
    }
    for (const p of ports(udp)) {
      pending++;
      const s = createSocket("udp4");
      s.on("message", (_m, r) => s.send(`${name} ${r.address}\n`, r.port, r.address));
      s.bind(p, "0.0.0.0", ready);
    }
    if (pending === 0) console.log(JSON.stringify({ ready: true }));
    process.stdin.on("end", () => process.exit(0));
    process.stdin.resume();
    break;
  }
  case "tcp": {
    const [host, port, count, timeout] = args;
    console.log(JSON.stringify(await repeat(Number(count), () => tcpOnce(host!, Number(port), Number(timeout ?? 2000)))));
    break;
  }
  case "udp": {
    const [host, port, count, timeout, src] = args;
    console.log(JSON.stringify(await repeat(Number(count), () => udpOnce(host!, Number(port), Number(timeout ?? 2000), src ? Number(src) : undefined))));
    break;
  }
  case "http": {
    const [url, timeout] = args;
    try {
      const r = await fetch(url!, { signal: AbortSignal.timeout(Number(timeout ?? 2000)) });
      console.log(JSON.stringify({ status: r.status, body: await r.text() }));
    } catch (e) {
      console.log(JSON.stringify({ error: (e as Error).name }));
    }
    break;
  }
  default:
    console.error(`net-probe: unknown mode ${mode}`);
    process.exit(2);
}
