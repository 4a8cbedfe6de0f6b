import { test } from "node:test";
import assert from "node:assert/strict";
import { BUSYBOX_BIN_IN_CONTAINER, imageShortName, planImage, PORT_SERVER_IN_CONTAINER, type ImageSources } from "./images.ts";

const src: ImageSources = { busyboxBin: "/lab/images/busybox/bin", agnhost: "/cache/agnhost", weft: "/checkout/bin/weft", portServer: "/checkout/build/weft-port-server" };
const none = { command: null, args: null, ports: [] };

test("an image is known by its last path segment without tag or digest", () => {
  for (const [image, short] of [
    ["busybox", "busybox"],
    ["docker.io/library/busybox:1.36", "busybox"],
    ["registry.k8s.io/e2e-test-images/agnhost:2.53", "agnhost"],
    ["nginx@sha256:abc", "nginx"],
    ["localhost:5000/weft:dev", "weft"],
  ]) assert.equal(imageShortName(image!), short, image);
});

test("busybox runs its applets first in PATH; args alone replace its CMD", () => {
  const p = planImage({ ...none, image: "busybox:1.36", args: ["sleep", "3600"] }, "bb", src);
  assert.deepEqual(p.argv, ["sleep", "3600"]);
  assert.deepEqual(p.pathPrefix, [BUSYBOX_BIN_IN_CONTAINER]);
  assert.deepEqual(p.binds, [{ target: BUSYBOX_BIN_IN_CONTAINER, source: src.busyboxBin, file: false }]);
  assert.deepEqual(planImage({ ...none, image: "busybox" }, "bb", src).argv, ["sh"]);
  assert.deepEqual(planImage({ ...none, image: "busybox", command: ["sh", "-c"], args: ["echo hi"] }, "bb", src).argv, ["sh", "-c", "echo hi"]);
});

test("agnhost's entrypoint is /agnhost, bound from the Kubernetes build", () => {
  const p = planImage({ ...none, image: "registry.k8s.io/e2e-test-images/agnhost:2.53", args: ["netexec", "--http-port=8080"] }, "a", src);
  assert.deepEqual(p.argv, ["/agnhost", "netexec", "--http-port=8080"]);
  assert.deepEqual(p.binds, [{ target: "/agnhost", source: "/cache/agnhost", file: true }]);
});

test("weft's image runs this checkout's weft, as built (bin/weft does not rebuild inside the container)", () => {
  const p = planImage({ ...none, image: "ghcr.io/example/weft:latest", args: ["agent"] }, "w", src);
  assert.deepEqual(p.argv, ["weft", "agent"]);
  assert.deepEqual(p.pathPrefix, ["/checkout/bin"]);
  assert.deepEqual(p.env, { WEFT_BUILD_FROZEN: "1" });
  assert.equal(planImage({ ...none, image: "busybox" }, "b", src).env, undefined);
});

test("any other image runs its command, else serves its declared ports", () => {
  assert.deepEqual(planImage({ ...none, image: "nginx", command: ["sleep", "1"] }, "web", src).argv, ["sleep", "1"]);
  const p = planImage({ ...none, image: "nginx", ports: [{ name: "http", containerPort: 80, hostPort: null, protocol: "TCP" }, { name: null, containerPort: 53, hostPort: null, protocol: "UDP" }, { name: null, containerPort: 9, hostPort: null, protocol: "SCTP" }] }, "web-1", src);
  assert.deepEqual(p.argv, [PORT_SERVER_IN_CONTAINER, "--pod", "web-1", "--port", "80/tcp", "--port", "53/udp"]);
});

test("a well-known web image that declares no port serves the one its image listens on (a server entrypoint's also given its flags); others only what they declare", () => {
  assert.deepEqual(planImage({ ...none, image: "docker.io/library/nginx:1.27" }, "web", src).argv, [PORT_SERVER_IN_CONTAINER, "--pod", "web", "--port", "80/tcp"]);
  const echo = planImage({ ...none, image: "registry.k8s.io/echoserver:1.4", ports: [{ name: null, containerPort: 9000, hostPort: null, protocol: "TCP" }] }, "e", src);
  assert.deepEqual(echo.argv, [PORT_SERVER_IN_CONTAINER, "--pod", "e", "--port", "9000/tcp"]);
  assert.deepEqual(planImage({ ...none, image: "hashicorp/http-echo:1.0", args: ["-text=hello"] }, "h", src).argv, [PORT_SERVER_IN_CONTAINER, "--pod", "h", "--port", "5678/tcp"]);
  assert.deepEqual(planImage({ ...none, image: "example.com/app:1" }, "a", src).argv, [PORT_SERVER_IN_CONTAINER, "--pod", "a"]);
  assert.deepEqual(planImage({ ...none, image: "example.com/app:1", args: ["serve"] }, "a", src).argv, ["serve"]);
  // nginx's entrypoint script runs its args: they are a command there.
  assert.deepEqual(planImage({ ...none, image: "nginx", args: ["sleep", "3600"] }, "n", src).argv, ["sleep", "3600"]);
});

test("a general-purpose or debugging image without command or args runs its shell; with args, those", () => {
  assert.deepEqual(planImage({ ...none, image: "nicolaka/netshoot:latest" }, "d", src).argv, ["bash"]);
  assert.deepEqual(planImage({ ...none, image: "alpine:3.20" }, "d", src).argv, ["/bin/sh"]);
  assert.deepEqual(planImage({ ...none, image: "alpine", args: ["ping", "-c1", "10.0.0.1"] }, "d", src).argv, ["ping", "-c1", "10.0.0.1"]);
  assert.deepEqual(planImage({ ...none, image: "ubuntu", command: ["sleep"], args: ["1"] }, "d", src).argv, ["sleep", "1"]);
});

test("the compiled port server is bound into the container at a path of its own, where no volume of the pod hides it", () => {
  const p = planImage({ ...none, image: "nginx" }, "web", src);
  assert.deepEqual(p.argv, [PORT_SERVER_IN_CONTAINER, "--pod", "web", "--port", "80/tcp"]);
  assert.deepEqual(p.binds, [{ target: PORT_SERVER_IN_CONTAINER, source: "/checkout/build/weft-port-server", file: true }]);
});
