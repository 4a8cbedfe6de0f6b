/**
 * The /etc/resolv.conf and /etc/hosts a pod's containers see, written as
 * kubelet writes them (pkg/kubelet/network/dns): ClusterFirst points at the
 * cluster DNS with the namespace's search path and ndots:5; a hostNetwork
 * pod under ClusterFirst falls back to the node's resolver (Default), unless
 * it asks for ClusterFirstWithHostNet.
 */
import type { DnsPolicy } from "../../kube/pod.ts";

export interface DnsInputs {
  namespace: string;
  dnsPolicy: DnsPolicy;
  hostNetwork: boolean;
  clusterDns: string;
  clusterDomain: string;
  /** The node's own resolv.conf text, for Default (and ClusterFirst on the host network). */
  nodeResolvConf: string;
}

/** The resolv.conf text for a pod. */
export function podResolvConf(d: DnsInputs): string {
  const clusterFirst = d.dnsPolicy === "ClusterFirstWithHostNet" || (d.dnsPolicy === "ClusterFirst" && !d.hostNetwork);
  if (d.dnsPolicy === "None") return "";
  if (!clusterFirst) return d.nodeResolvConf.endsWith("\n") || d.nodeResolvConf === "" ? d.nodeResolvConf : `${d.nodeResolvConf}\n`;
  const search = [`${d.namespace}.svc.${d.clusterDomain}`, `svc.${d.clusterDomain}`, d.clusterDomain];
  return `search ${search.join(" ")}\nnameserver ${d.clusterDns}\noptions ndots:5\n`;
}

/** The /etc/hosts text of a pod: localhost lines, then the pod's IP with its hostname (and FQDN under a subdomain). */
export function podHosts(p: { ip: string | null; hostname: string; subdomain: string | null; namespace: string; clusterDomain: string }): string {
  const lines = [
    "# Kubernetes-managed hosts file.",
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "fe00::0\tip6-mcastprefix",
    "fe00::1\tip6-allnodes",
    "fe00::2\tip6-allrouters",
  ];
  if (p.ip !== null) {
    const fqdn = p.subdomain ? `${p.hostname}.${p.subdomain}.${p.namespace}.svc.${p.clusterDomain}\t` : "";
    lines.push(`${p.ip}\t${fqdn}${p.hostname}`);
  }
  return lines.join("\n") + "\n";
}
