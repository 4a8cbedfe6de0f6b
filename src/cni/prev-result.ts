/**
 * `prevResult`: the result of the plugins before weft in a chain (ADD), or
 * of the whole chain (CHECK, DEL). It is read when the configuration is
 * parsed, before anything is changed, into the shape weft extends
 * (result.ts): a malformed one is error 7 naming the field, not a failure
 * halfway through an ADD. Fields a version has and weft does not use
 * (an interface's socketPath, a route's table) are kept as they are.
 */
import { integer, invalid, isCidrText, isIpText, list, object, parseDns, string } from "./fields.ts";
import type { Interface, IpConfig, Result, Route } from "./result.ts";

const FIELD = "prevResult";

function parseInterface(field: string, v: unknown): Interface {
  const i = object(field, v);
  string(`${field}.name`, i.name);
  if (i.name === "") throw invalid(`${field}.name`, i.name, "must not be empty");
  if (i.mac !== undefined) string(`${field}.mac`, i.mac);
  if (i.sandbox !== undefined) string(`${field}.sandbox`, i.sandbox);
  if (i.mtu !== undefined) integer(`${field}.mtu`, i.mtu, 0, 2 ** 31 - 1);
  return i as unknown as Interface;
}

function parseIp(field: string, v: unknown, interfaces: number): IpConfig {
  const ip = object(field, v);
  if (typeof ip.address !== "string" || !isCidrText(ip.address)) throw invalid(`${field}.address`, ip.address, "is not an address/prefix length (10.1.2.3/24, fd00::3/64)");
  const out: IpConfig = { address: ip.address };
  if (ip.gateway !== undefined) {
    if (typeof ip.gateway !== "string" || !isIpText(ip.gateway)) throw invalid(`${field}.gateway`, ip.gateway, "is not an IPv4 or IPv6 address");
    out.gateway = ip.gateway;
  }
  if (ip.interface !== undefined) {
    if (typeof ip.interface !== "number" || !Number.isInteger(ip.interface) || ip.interface < 0 || ip.interface >= interfaces) {
      throw invalid(`${field}.interface`, ip.interface, `is not an index into ${FIELD}.interfaces (which has ${interfaces})`);
    }
    out.interface = ip.interface;
  }
  // 0.3.x and 0.4.0 say "4" or "6" here; results weft writes derive it from the address.
  if (ip.version !== undefined && ip.version !== "4" && ip.version !== "6") throw invalid(`${field}.version`, ip.version, 'must be "4" or "6"');
  return out;
}

function parseRoute(field: string, v: unknown): Route {
  const r = object(field, v);
  if (typeof r.dst !== "string" || !isCidrText(r.dst)) throw invalid(`${field}.dst`, r.dst, "is not a destination prefix (0.0.0.0/0, 10.96.0.0/12)");
  if (r.gw !== undefined && (typeof r.gw !== "string" || !isIpText(r.gw))) throw invalid(`${field}.gw`, r.gw, "is not an IPv4 or IPv6 address");
  for (const k of ["mtu", "advmss", "priority", "table", "scope"]) if (r[k] !== undefined) integer(`${field}.${k}`, r[k], 0, 2 ** 32 - 1);
  return r as unknown as Route;
}

/** Validates `v` (the config's prevResult, undefined when absent) into a Result; error 7 naming the field. */
export function parsePrevResult(v: unknown): Result | undefined {
  if (v === undefined) return undefined;
  const prev = object(FIELD, v);
  const interfaces: Interface[] = [];
  const ips: IpConfig[] = [];
  const routes: Route[] = [];
  if (prev.interfaces !== undefined) {
    const l = list(`${FIELD}.interfaces`, prev.interfaces);
    for (let i = 0; i < l.length; i++) interfaces.push(parseInterface(`${FIELD}.interfaces[${i}]`, l[i]));
  }
  if (prev.ips !== undefined) {
    const l = list(`${FIELD}.ips`, prev.ips);
    for (let i = 0; i < l.length; i++) ips.push(parseIp(`${FIELD}.ips[${i}]`, l[i], interfaces.length));
  }
  if (prev.routes !== undefined) {
    const l = list(`${FIELD}.routes`, prev.routes);
    for (let i = 0; i < l.length; i++) routes.push(parseRoute(`${FIELD}.routes[${i}]`, l[i]));
  }
  const dns = parseDns(`${FIELD}.dns`, prev.dns);
  let empty = true;
  for (const _k in dns) empty = false;
  return { interfaces, ips, routes, dns: empty ? undefined : dns };
}
