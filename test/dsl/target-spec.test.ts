import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { parseTargetSpec } from "../../src/dsl/target-spec.js";

describe("parseTargetSpec", () => {
  it.each([
    ["docker/zookeeper:libzookeeper_mt:zoo_set2", { kind: "docker", ref: "zookeeper" }, "libzookeeper_mt", "zoo_set2"],
    ["podman/3f2a:libc", { kind: "podman", ref: "3f2a" }, "libc", undefined],
    ["containerd/k8s.io/abc123:exe", { kind: "containerd", namespace: "k8s.io", id: "abc123" }, "exe", undefined],
    ["containerd/abc123", { kind: "containerd", namespace: undefined, id: "abc123" }, undefined, undefined],
    ["crio/deadbeef:libssl.so.3:SSL_read", { kind: "crio", id: "deadbeef" }, "libssl.so.3", "SSL_read"],
    ["k8s/default/web-7d4b9/nginx:exe:ngx_http_*", { kind: "k8s", namespace: "default", pod: "web-7d4b9", container: "nginx" }, "exe", "ngx_http_*"],
    ["k8s/default/web-7d4b9", { kind: "k8s", namespace: "default", pod: "web-7d4b9", container: undefined }, undefined, undefined],
    ["pid/1234:libc:malloc@@GLIBC_2.2.5", { kind: "pid", pid: 1234 }, "libc", "malloc@@GLIBC_2.2.5"],
    ["host:/usr/lib/x86_64-linux-gnu/libc.so.6:getaddrinfo", { kind: "host" }, "/usr/lib/x86_64-linux-gnu/libc.so.6", "getaddrinfo"],
    ["web:libc", { kind: "name", name: "web" }, "libc", undefined],
    // A USDT location keeps its own colon.
    ["docker/pg:postgres:postgresql:query__start", { kind: "docker", ref: "pg" }, "postgres", "postgresql:query__start"],
    ["docker/web:libc:getaddrinfo+0x10", { kind: "docker", ref: "web" }, "libc", "getaddrinfo+0x10"],
    // Issue 10: an object whose name holds ':' is quoted; the quotes are not part of it.
    ['pid/42:"/memfd:libstapsdt:salp-demo":salp-demo:p1', { kind: "pid", pid: 42 }, "/memfd:libstapsdt:salp-demo", "salp-demo:p1"],
    ['pid/42:"memfd:libstapsdt:*":salp-demo:p*', { kind: "pid", pid: 42 }, "memfd:libstapsdt:*", "salp-demo:p*"],
    ['pid/42:"/tmp/salp-demo-*.so"', { kind: "pid", pid: 42 }, "/tmp/salp-demo-*.so", undefined],
    ['docker/pg:"postgres":postgresql:query__start', { kind: "docker", ref: "pg" }, "postgres", "postgresql:query__start"],
  ])("%s", (text, scope, object, location) => {
    expect(parseTargetSpec(text)).toEqual({ text, scope, object, location });
  });

  it.each([
    ["", /the scope before the first ':' is empty/],
    [":libc", /the scope before the first ':' is empty/],
    ["docker/web::malloc", /the object between the first two ':' is empty/],
    ["docker/web:libc:", /the location after the second ':' is empty/],
    ['pid/42:"/memfd:x', /the quoted object has no closing '"'/],
    ['pid/42:"":p:n', /the quoted object "" is empty/],
    ['pid/42:"/memfd:x"y:p:n', /after the quoted object "\/memfd:x", expected ':' or the end, not "y:p:n"/],
    ['pid/42:"/memfd:x":', /the location after the quoted object "\/memfd:x" is empty/],
    ["docker/", /has an empty part/],
    ["docker/a/b:libc", /docker scopes are docker\/NAME or docker\/ID/],
    ["pid/abc:libc", /"abc" is not a process id/],
    ["pid/0", /"0" is not a process id/],
    ["k8s/default", /k8s scopes are k8s\/NAMESPACE\/POD/],
    ["lxc/box:libc", /unknown scope kind "lxc"/],
    ["we b:libc", /"we b" is not a container name/],
  ])("rejects %j", (text, message) => {
    let caught: unknown;
    try {
      parseTargetSpec(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).message).toMatch(message);
    expect((caught as UsageError).message.startsWith(`target "${text}": `)).toBe(true);
    expect((caught as UsageError).hints[0]).toMatch(/^write SCOPE\[:OBJECT\[:LOCATION\]\], where SCOPE is docker\/…, podman\/…/);
  });
});
