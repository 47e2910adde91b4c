// Label selectors (src/dsl/label-selector.ts): the syntax k8s.io/apimachinery's labels.Parse accepts, and its matching rules.
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { matchesLabels, parseLabelSelector } from "../../src/dsl/label-selector.js";

const web = { app: "web", tier: "api", replicas: "3" };
const db = { app: "db", tier: "db", canary: "" };

function picks(selector: string): string[] {
  const s = parseLabelSelector(selector);
  return Object.entries({ web, db }).flatMap(([name, labels]) => (matchesLabels(s, labels) ? [name] : []));
}

describe("parseLabelSelector", () => {
  it("parses every operator", () => {
    expect(parseLabelSelector(" app = web , tier!=db,x==y, tier in (api, worker),env notin(dev),canary,!gone,n>2,m<5").requirements).toEqual([
      { key: "app", op: "=", value: "web" },
      { key: "tier", op: "!=", value: "db" },
      { key: "x", op: "=", value: "y" },
      { key: "tier", op: "in", values: ["api", "worker"] },
      { key: "env", op: "notin", values: ["dev"] },
      { key: "canary", op: "exists" },
      { key: "gone", op: "!exists" },
      { key: "n", op: ">", value: 2 },
      { key: "m", op: "<", value: 5 },
    ]);
  });

  it("accepts prefixed keys and empty values as Kubernetes does", () => {
    expect(parseLabelSelector("com.docker.compose.service=web").requirements).toEqual([{ key: "com.docker.compose.service", op: "=", value: "web" }]);
    expect(parseLabelSelector("example.com/role=").requirements).toEqual([{ key: "example.com/role", op: "=", value: "" }]);
  });

  it("matches: = and in need the key, != and notin also match where it is absent", () => {
    expect(picks("app=web")).toEqual(["web"]);
    expect(picks("app==db")).toEqual(["db"]);
    expect(picks("tier!=db")).toEqual(["web"]);
    expect(picks("tier in (api,worker)")).toEqual(["web"]);
    expect(picks("env notin (dev)")).toEqual(["web", "db"]);
    expect(picks("canary")).toEqual(["db"]);
    expect(picks("!canary")).toEqual(["web"]);
    expect(picks("replicas>2")).toEqual(["web"]);
    expect(picks("replicas<3")).toEqual([]);
    expect(picks("app=web,canary")).toEqual([]);
  });

  const bad: Array<[string, RegExp]> = [
    ["", /label selector "", column 1: the selector is empty/],
    ["app=web,", /column 9: a ',' must be followed by a requirement/],
    ["tier in (api", /column 13: expected "," or "\)" in the value set, found the end/],
    ["tier in api", /column 9: expected "\(" after "in", found "api"/],
    ["tier in ()", /column 10: "in" needs at least one value/],
    ["app=web tier=api", /column 9: expected "," or the end, found "tier" \(requirements are joined by ','\)/],
    ["-app=web", /column 1: "-app" is not a valid label key: the name must be/],
    ["Example.com/app=web", /"Example.com\/app" is not a valid label key: the prefix must be a lower-case DNS subdomain/],
    ["app=we/b", /column 5: "we\/b" is not a valid label value/],
    ["n>x", /column 3: ">" needs an integer, found "x"/],
    ["app web", /column 5: expected =, ==, !=, in, notin/],
    ["=web", /column 1: expected a label key, found "="/],
  ];
  it.each(bad)("rejects %j with the column and the syntax", (text, message) => {
    let error: unknown;
    try {
      parseLabelSelector(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toMatch(message);
    expect((error as UsageError).hints.join("\n")).toMatch(/KEY in \(V1,V2\)/);
  });
});
