import { test } from "node:test";
import assert from "node:assert/strict";
import { readyConditions } from "./nodes-ready.ts";

test("Ready conditions are read from the Nodes of a mixed list", () => {
  const list = {
    items: [
      { kind: "Node", metadata: { name: "node1" }, status: { conditions: [{ type: "MemoryPressure", status: "False" }, { type: "Ready", status: "True" }] } },
      { kind: "Node", metadata: { name: "node2" }, status: { conditions: [{ type: "Ready", status: "False", message: "cni plugin not initialized" }] } },
      { kind: "Node", metadata: { name: "node3" } },
      { kind: "ServiceAccount", metadata: { name: "default" } },
    ],
  };
  const c = readyConditions(JSON.stringify(list));
  assert.deepEqual([...c.keys()], ["node1", "node2", "node3"]);
  assert.deepEqual(c.get("node1"), { status: "True", message: "" });
  assert.deepEqual(c.get("node2"), { status: "False", message: "cni plugin not initialized" });
  assert.deepEqual(c.get("node3"), { status: "Unknown", message: "" });
});
