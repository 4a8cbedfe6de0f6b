import { test } from "node:test";
import assert from "node:assert/strict";
import { BUSYBOX, launchArgv, launchScript, resolveInRoot, shq } from "./launch.ts";

test("paths resolve through the machine's links as they would inside the container", () => {
  // Debian: /var/run -> /run (absolute link), /bin -> usr/bin (relative).
  assert.equal(resolveInRoot("/var/run/secrets/kubernetes.io/serviceaccount"), "/run/secrets/kubernetes.io/serviceaccount");
  assert.equal(resolveInRoot("/no/such/dir"), "/no/such/dir");
  assert.equal(resolveInRoot("/a/../b/./c"), "/b/c");
});

test("the launch script mounts inside the root and runs the command chrooted", () => {
  const s = launchScript({
    rootfs: "/p/rootfs", upper: "/p/u", work: "/p/w",
    binds: [{ target: "/var/run/secrets/x", source: "/vol/it's", readOnly: true, file: false }],
    copies: [{ target: "/etc/resolv.conf", source: "/p/resolv.conf" }],
    workingDir: "/", exitFile: "/p/exit", startedFile: "/p/started", hostname: "web-1",
  });
  assert.match(s, /^mount -t overlay overlay -o lowerdir=\/,upperdir=\/p\/u,workdir=\/p\/w \/p\/rootfs$/m);
  // Under the container's fresh /run, the mount point is made once /run is mounted.
  assert.match(s, /^mkdir -p \/p\/rootfs\/run\/secrets\/x$/m);
  assert.match(s, /^mount -o bind '\/vol\/it'\\''s' \/p\/rootfs\/run\/secrets\/x$/m);
  assert.match(s, /^mount -o remount,bind,ro \/p\/rootfs\/run\/secrets\/x$/m);
  // /etc/resolv.conf is written into the upper layer beforehand (prepareUpper), not by the script.
  assert.doesNotMatch(s, /resolv\.conf/);
  assert.match(s, /^hostname web-1$/m);
  assert.match(s, /^\S*busybox chroot \/p\/rootfs \/bin\/sh -c .* "\$@"$/m);
  assert.match(s, /^mount -t tmpfs -o nosuid,nodev,mode=1777,size=64m shm \/p\/rootfs\/dev\/shm$/m, "not the host's /dev/shm");
  assert.match(s, /^unset SHLVL$/m, "busybox's sh sets it; the container's env did not");
  assert.match(launchScript({ rootfs: "/r", upper: "/u", work: "/w", binds: [], copies: [], workingDir: "/", exitFile: "/e", startedFile: "/s", hostname: "h", shlvl: "3" }), /^SHLVL=3$/m);
  assert.match(s, /^echo \$\? >\/p\/exit$/m);
  // The started file comes after the last mount and the hostname, just before the chroot.
  const lines = s.split("\n");
  const startedAt = lines.indexOf(": >/p/started");
  assert.ok(startedAt > lines.findLastIndex((l) => l.startsWith("mount ") || l.startsWith("hostname ")), "after every mount");
  assert.ok(startedAt < lines.findIndex((l) => l.includes(" chroot ")), "before the chroot");
  // No CPU weight asked for: the session's is left alone; BestEffort's is set first of all.
  assert.doesNotMatch(s, /autogroup/);
  const niced = launchScript({ rootfs: "/r", upper: "/u", work: "/w", binds: [], copies: [], workingDir: "/", exitFile: "/e", startedFile: "/s", hostname: "h", cpuNice: 19 });
  assert.equal(niced.split("\n")[0], "{ echo 19 >/proc/self/autogroup; } 2>/dev/null || :");
  assert.equal(shq("a b"), "'a b'");
});

test("the launch shell is busybox's, in the pod's network namespace with mount and UTS namespaces of its own", () => {
  const argv = launchArgv("lab-pod-default.web-1", "SCRIPT", ["/bin/app", "--flag"]);
  assert.deepEqual(argv, [
    BUSYBOX, "nsenter", "--net=/run/netns/lab-pod-default.web-1",
    BUSYBOX, "unshare", "--mount", "--uts", "--propagation", "slave",
    BUSYBOX, "sh", "-c", "SCRIPT", "weft-container", "/bin/app", "--flag",
  ]);
});
