import { test } from "node:test";
import assert from "node:assert/strict";
import { agentSocketBeside, readAnswer } from "./announce.ts";
import { CniError } from "./errors.ts";

test("the agent's socket is agent.sock beside the subnet file", () => {
  assert.equal(agentSocketBeside("/run/weft/subnet.env"), "/run/weft/agent.sock");
  assert.equal(agentSocketBeside("/var/run/lab/node1/run/subnet.env"), "/var/run/lab/node1/run/agent.sock");
});

const http = (status: string, body: unknown) => `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\n\r\n${JSON.stringify(body)}\n`;

test("the agent's answer: programmed, policy off and an unknown pod let ADD go on; anything else is error 11 with the agent's reason", () => {
  const cases: { name: string; response: string; want: string | RegExp }[] = [
    { name: "programmed", response: http("200 OK", { programmed: true, isolated: { ingress: true, egress: false } }), want: "programmed" },
    { name: "policy off", response: http("503 Service Unavailable", { code: "POLICY_OFF", message: "network policy does not run on n1" }), want: "policy-off" },
    { name: "an agent from before /policy/pods", response: http("404 Not Found", { code: "NOT_FOUND", message: "the agent has no /policy/pods" }), want: "policy-off" },
    { name: "a pod the API does not have", response: http("200 OK", { programmed: false, known: false, reason: "not known" }), want: "unknown-pod" },
    { name: "not synced yet", response: http("200 OK", { programmed: false, reason: "network policy has not synced yet" }), want: /has not programmed pod x\/a into its network policy: network policy has not synced yet/ },
    { name: "a failure", response: http("500 Internal Server Error", { code: "AGENT_INTERNAL", message: "boom" }), want: /has not programmed pod x\/a .*answered "HTTP\/1\.1 500/ },
    { name: "not HTTP", response: "garbage", want: /answered "garbage"/ },
  ];
  for (const c of cases) {
    if (typeof c.want === "string") {
      assert.equal(readAnswer(c.response, "/run/weft/agent.sock", "x/a"), c.want, c.name);
    } else {
      assert.throws(() => readAnswer(c.response, "/run/weft/agent.sock", "x/a"), (e: unknown) => e instanceof CniError && e.code === 11 && (c.want as RegExp).test(e.message), c.name);
    }
  }
});
