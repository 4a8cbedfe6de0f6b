import { test } from "node:test";
import assert from "node:assert/strict";
import { CniError } from "./errors.ts";
import { isCniName, isValidIfname, readEnv } from "./env.ts";

const names: Array<[string, boolean]> = [
  ["weft", true], ["0abc_d.e-f", true], ["A", true], ["", false], ["-x", false], ["_x", false], [".x", false],
  ["a b", false], ["a/b", false], ["é", false], ["ab:c", false],
];
for (const [s, ok] of names) {
  test(`isCniName(${JSON.stringify(s)}) is ${ok}`, () => assert.equal(isCniName(s), ok));
}

const ifnames: Array<[string, boolean]> = [
  ["eth0", true], ["veth0123456789a", true], ["net-1.x_y", true], ["é0", true],
  ["", false], [".", false], ["..", false], ["veth0123456789ab", false], ["a/b", false], ["a:b", false],
  ["a b", false], ["a\tb", false], ["a\nb", false], ["a\u00a0b", false], ["a\u2003b", false], ["a\u0000b", false], ["a\u0007", false], ["a\u007f", false],
  // The kernel counts bytes: "é" is two, "😀" four.
  ["é".repeat(7) + "a", true], ["é".repeat(8), false], ["😀".repeat(3) + "ab", true], ["😀".repeat(4), false],
];
for (const [s, ok] of ifnames) {
  test(`isValidIfname(${JSON.stringify(s)}) is ${ok}`, () => assert.equal(isValidIfname(s), ok));
}

/** What libcni's GetVersionInfo sets, and worse. */
const junk = { CNI_CONTAINERID: ".bad id", CNI_NETNS: "dummy", CNI_IFNAME: "a/b", CNI_PATH: "dummy", CNI_ARGS: "junk" };

test("VERSION, STATUS and GC read nothing but CNI_COMMAND, whatever the rest holds", () => {
  for (const verb of ["VERSION", "STATUS", "GC"]) {
    assert.deepEqual(readEnv({ CNI_COMMAND: verb, ...junk }), { command: verb, containerId: "", netns: "", ifname: "", args: new Map() });
    assert.equal(readEnv({ CNI_COMMAND: verb }).command, verb);
  }
});

test("each verb requires and checks the variables it reads, and only those", () => {
  const full = { CNI_CONTAINERID: "c1", CNI_NETNS: "/run/netns/p", CNI_IFNAME: "eth0", CNI_ARGS: "K8S_POD_NAME=web" };
  const add = readEnv({ CNI_COMMAND: "ADD", ...full });
  assert.deepEqual(add, { command: "ADD", containerId: "c1", netns: "/run/netns/p", ifname: "eth0", args: new Map([["K8S_POD_NAME", "web"]]) });
  // DEL needs no namespace (nor checks one), CHECK and DEL no CNI_ARGS, and no verb CNI_PATH.
  assert.deepEqual(readEnv({ CNI_COMMAND: "DEL", CNI_CONTAINERID: "c1", CNI_IFNAME: "eth0", CNI_NETNS: "rel", CNI_ARGS: "junk" }), { command: "DEL", containerId: "c1", netns: "", ifname: "eth0", args: new Map() });
  assert.equal(readEnv({ CNI_COMMAND: "CHECK", ...full, CNI_ARGS: "junk" }).netns, "/run/netns/p");
  const refused: Array<[Record<string, string>, RegExp]> = [
    [{ CNI_COMMAND: "ADD", ...full, CNI_CONTAINERID: "" }, /CNI_CONTAINERID is required for ADD/],
    [{ CNI_COMMAND: "ADD", ...full, CNI_NETNS: "" }, /CNI_NETNS is required for ADD/],
    [{ CNI_COMMAND: "CHECK", ...full, CNI_NETNS: "rel" }, /CNI_NETNS "rel" must be an absolute path/],
    [{ CNI_COMMAND: "DEL", ...full, CNI_IFNAME: "" }, /CNI_IFNAME is required for DEL/],
    [{ CNI_COMMAND: "DEL", ...full, CNI_CONTAINERID: "-x" }, /CNI_CONTAINERID "-x" is invalid/],
    [{ CNI_COMMAND: "ADD", ...full, CNI_ARGS: "junk" }, /CNI_ARGS "junk" is malformed/],
    [{ CNI_COMMAND: "FROB" }, /CNI_COMMAND "FROB" is not a CNI verb/],
    [{}, /CNI_COMMAND is not set/],
  ];
  for (const [env, re] of refused) assert.throws(() => readEnv(env), (e: Error) => e instanceof CniError && e.code === 4 && re.test(e.message), JSON.stringify(env));
});
