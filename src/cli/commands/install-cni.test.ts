// `weft install-cni` refuses, before writing anything, what the plugin would
// refuse on every ADD and paths that are not absolute (issue 17, item 11).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WeftError } from "../../lib/errors.ts";
import { PLUGIN_EXECUTABLE, run } from "./install-cni.ts";

const skip = existsSync(PLUGIN_EXECUTABLE) ? false : "the plugin is not built (scripts/setup.sh)";
const dir = mkdtempSync(join(tmpdir(), "weft-install-cni-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const bin = join(dir, "bin");
const conf = join(dir, "conf");

// [what, argv, stable code, message]
const refused: [string, string[], string, RegExp][] = [
  ["a bridge name with a slash", ["--bridge", "a/b"], "CNI_CONFIG_INVALID", /the weft plugin would refuse every ADD with this configuration: .*bridge="a\/b" is not a valid interface name/],
  ["a bridge name of 16 bytes", ["--bridge", "abcdefghijklmnop"], "CNI_CONFIG_INVALID", /bridge="abcdefghijklmnop" is not a valid interface name/],
  ["a bridge name of 8 two-byte characters (16 bytes)", ["--bridge", "éééééééé"], "CNI_CONFIG_INVALID", /bridge="éééééééé" is not a valid interface name/],
  ["an empty bridge name", ["--bridge", ""], "CNI_CONFIG_INVALID", /bridge="" is not a valid interface name/],
  ["a bridge name with a space", ["--bridge", "we ft"], "CNI_CONFIG_INVALID", /is not a valid interface name/],
  ["a relative subnet file", ["--subnet-file", "run/subnet.env"], "PATH_NOT_ABSOLUTE", /^--subnet-file must be an absolute path, got "run\/subnet\.env"/],
  ["a relative data dir", ["--data-dir", "ipam"], "PATH_NOT_ABSOLUTE", /^--data-dir must be an absolute path, got "ipam"/],
];
for (const [what, argv, code, message] of refused) {
  test(`refused: ${what}`, { skip }, async () => {
    await assert.rejects(run(["--bin-dir", bin, "--conf-dir", conf, ...argv]), (err: unknown) => {
      assert.ok(err instanceof WeftError);
      assert.equal(err.code, code);
      assert.match(err.message, message);
      return true;
    });
    assert.ok(!existsSync(bin) && !existsSync(conf), "nothing written");
  });
}

// The directories themselves: one rule for every path flag.
const badDirs: [string, string[], string, RegExp][] = [
  ["a relative bin dir", ["--bin-dir", "relative/bin"], "PATH_NOT_ABSOLUTE", /^--bin-dir must be an absolute path, got "relative\/bin"/],
  ["a relative conf dir", ["--bin-dir", bin, "--conf-dir", "etc/net.d"], "PATH_NOT_ABSOLUTE", /^--conf-dir must be an absolute path, got "etc\/net\.d"/],
  ["a bin dir under /proc", ["--bin-dir", "/proc/weft-qa/bin"], "DIR_UNUSABLE", /^cannot use --bin-dir \/proc\/weft-qa\/bin: \/proc does not allow creating \/proc\/weft-qa \(ENOENT\)/],
];
for (const [what, argv, code, message] of badDirs) {
  test(`refused: ${what}`, { skip }, async () => {
    await assert.rejects(run(argv), (err: unknown) => {
      assert.ok(err instanceof WeftError);
      assert.equal(err.code, code);
      assert.match(err.message, message);
      return true;
    });
    assert.ok(!existsSync(join(process.cwd(), "relative")) && !existsSync(join(process.cwd(), "etc")));
  });
}

test("a valid configuration is installed", { skip }, async () => {
  assert.equal(await run(["--bin-dir", bin, "--conf-dir", conf, "--bridge", "weft1", "--subnet-file", "/run/weft/subnet.env"]), 0);
  assert.deepEqual(readdirSync(conf), ["10-weft.conflist"]);
});

test("an install over its own earlier copy leaves the executable alone; a different one is replaced", { skip }, async () => {
  const again = join(dir, "again");
  const quiet = { write: process.stdout.write };
  process.stdout.write = () => true;
  try {
    await run(["--bin-dir", again]);
    const first = statSync(join(again, "weft"));
    assert.equal(first.size, statSync(PLUGIN_EXECUTABLE).size);
    assert.ok(Math.abs(first.mtimeMs - statSync(PLUGIN_EXECUTABLE).mtimeMs) < 1, "the copy keeps the source's mtime");
    await run(["--bin-dir", again]);
    assert.equal(statSync(join(again, "weft")).ino, first.ino, "the same file: not copied again");
    utimesSync(join(again, "weft"), new Date(0), new Date(0));
    await run(["--bin-dir", again]);
    const replaced = statSync(join(again, "weft"));
    assert.notEqual(replaced.ino, first.ino, "another executable there is replaced");
    assert.ok(Math.abs(replaced.mtimeMs - statSync(PLUGIN_EXECUTABLE).mtimeMs) < 1);
  } finally {
    process.stdout.write = quiet.write;
  }
});
