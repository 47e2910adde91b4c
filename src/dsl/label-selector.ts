/**
 * Kubernetes label selectors, parsed and matched without Kubernetes: scopes
 * such as `k8s/shop/app=web` and `docker/com.docker.compose.service=web`
 * pick containers by the labels their runtime stores (issue 14).
 *
 * The syntax is the one k8s.io/apimachinery's `labels.Parse` accepts
 * (pkg/labels/selector.go, its lexer and parser):
 *
 *     app=web   app==web   tier!=db            equality / inequality
 *     tier in (api,worker)   env notin (dev)   set membership
 *     canary   !canary                          the key exists / does not
 *     replicas>2   replicas<5                   integer comparison
 *     app=web,tier!=db                          comma = and
 *
 * Facts kept from labels.Parse: whitespace between tokens is ignored;
 * identifiers end at whitespace or any of `! = , ( ) < >`; `in` and
 * `notin` are keywords only after a key; `!=` and `notin` also match when
 * the key is absent; `in`/`notin` need a non-empty set; `>`/`<` need exactly
 * one integer value. Keys are qualified names and values label values as
 * k8s.io/apimachinery/pkg/util/validation defines them (IsQualifiedName,
 * IsValidLabelValue).
 *
 * Pure: no I/O.
 */
import { UsageError } from "../errors.js";

/** One requirement of a selector; a selector is their conjunction. */
export type LabelRequirement =
  | { readonly key: string; readonly op: "=" | "!="; readonly value: string }
  | { readonly key: string; readonly op: "in" | "notin"; readonly values: readonly string[] }
  | { readonly key: string; readonly op: "exists" | "!exists" }
  | { readonly key: string; readonly op: ">" | "<"; readonly value: number };

/** A parsed selector: its text and requirements (all must hold). */
export interface LabelSelector {
  readonly text: string;
  readonly requirements: readonly LabelRequirement[];
}

type TokenKind = "id" | "=" | "==" | "!=" | "!" | "," | "(" | ")" | ">" | "<" | "in" | "notin" | "end";
interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  /** 0-based offset in the selector text. */
  readonly at: number;
}

const SPECIAL = new Set(["!", "=", ",", "(", ")", "<", ">"]);
const SYNTAX =
  "write KEY=VALUE, KEY==VALUE, KEY!=VALUE, KEY in (V1,V2), KEY notin (V1), KEY, !KEY, KEY>N or KEY<N, joined by ',' (Kubernetes label selector syntax)";

function lex(text: string, fail: (at: number, why: string) => never): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (SPECIAL.has(c)) {
      const two = text.slice(i, i + 2);
      if (two === "==" || two === "!=") {
        tokens.push({ kind: two, text: two, at: i });
        i += 2;
      } else {
        tokens.push({ kind: c as TokenKind, text: c, at: i });
        i++;
      }
      continue;
    }
    const start = i;
    while (i < text.length && !SPECIAL.has(text[i] as string) && !/\s/.test(text[i] as string)) i++;
    const word = text.slice(start, i);
    if (word.includes('"')) fail(start, `'"' cannot appear in a label key or value`);
    tokens.push({ kind: word === "in" || word === "notin" ? word : "id", text: word, at: start });
  }
  tokens.push({ kind: "end", text: "", at: text.length });
  return tokens;
}

/** Parses a selector. @throws UsageError naming the selector, the 1-based column, what was expected, and the syntax. */
export function parseLabelSelector(text: string): LabelSelector {
  const fail = (at: number, why: string): never => {
    throw new UsageError(`label selector "${text}", column ${at + 1}: ${why}`, [SYNTAX]);
  };
  const tokens = lex(text, fail);
  let pos = 0;
  const peek = (): Token => tokens[pos] as Token;
  const next = (): Token => tokens[pos++] as Token;
  const describe = (t: Token): string => (t.kind === "end" ? "the end" : `"${t.text}"`);
  const key = (): string => {
    const t = next();
    if (t.kind !== "id") fail(t.at, `expected a label key, found ${describe(t)}`);
    const why = keyProblem(t.text);
    if (why !== undefined) fail(t.at, `"${t.text}" is not a valid label key: ${why}`);
    return t.text;
  };
  const value = (t: Token, allowEmpty: boolean): string => {
    if (t.kind !== "id") {
      if (allowEmpty) return "";
      fail(t.at, `expected a label value, found ${describe(t)}`);
    }
    const why = valueProblem(t.text);
    if (why !== undefined) fail(t.at, `"${t.text}" is not a valid label value: ${why}`);
    pos++;
    return t.text;
  };
  if (peek().kind === "end") fail(0, "the selector is empty");
  const requirements: LabelRequirement[] = [];
  for (;;) {
    if (peek().kind === "!") {
      next();
      const k = key();
      requirements.push({ key: k, op: "!exists" });
    } else {
      const k = key();
      const op = peek();
      switch (op.kind) {
        case "end":
        case ",":
          requirements.push({ key: k, op: "exists" });
          break;
        case "=":
        case "==":
        case "!=":
          next();
          // `app=` (an empty value) is valid, as in labels.Parse.
          requirements.push({ key: k, op: op.kind === "!=" ? "!=" : "=", value: value(peek(), peek().kind === "end" || peek().kind === ",") });
          break;
        case ">":
        case "<": {
          next();
          const t = peek();
          if (t.kind !== "id" || !/^-?[0-9]+$/.test(t.text)) fail(t.at, `"${op.text}" needs an integer, found ${describe(t)}`);
          pos++;
          requirements.push({ key: k, op: op.kind, value: Number(t.text) });
          break;
        }
        case "in":
        case "notin": {
          next();
          const open = next();
          if (open.kind !== "(") fail(open.at, `expected "(" after "${op.text}", found ${describe(open)}`);
          const values: string[] = [];
          if (peek().kind === ")") fail(peek().at, `"${op.text}" needs at least one value: ${k} ${op.text} (V1,V2)`);
          for (;;) {
            values.push(value(peek(), peek().kind === "," || peek().kind === ")"));
            const sep = next();
            if (sep.kind === ")") break;
            if (sep.kind !== ",") fail(sep.at, `expected "," or ")" in the value set, found ${describe(sep)}`);
          }
          requirements.push({ key: k, op: op.kind, values });
          break;
        }
        default:
          fail(op.at, `expected =, ==, !=, in, notin, >, <, "," or the end after the key "${k}", found ${describe(op)}`);
      }
    }
    const sep = next();
    if (sep.kind === "end") break;
    if (sep.kind !== ",") fail(sep.at, `expected "," or the end, found ${describe(sep)}${sep.kind === "id" ? " (requirements are joined by ',')" : ""}`);
    if (peek().kind === "end") fail(peek().at, "a ',' must be followed by a requirement");
  }
  return { text, requirements };
}

/** Whether `labels` satisfy every requirement of `selector`. */
export function matchesLabels(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  return selector.requirements.every((r) => {
    const has = Object.hasOwn(labels, r.key);
    const v = labels[r.key];
    switch (r.op) {
      case "exists":
        return has;
      case "!exists":
        return !has;
      case "=":
        return has && v === r.value;
      case "!=":
        return !has || v !== r.value;
      case "in":
        return has && r.values.includes(v as string);
      case "notin":
        return !has || !r.values.includes(v as string);
      case ">":
      case "<": {
        if (!has || !/^-?[0-9]+$/.test(v as string)) return false;
        const n = Number(v);
        return r.op === ">" ? n > r.value : n < r.value;
      }
    }
  });
}

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why `key` is not a qualified name (IsQualifiedName: `[PREFIX/]NAME`), or undefined when it is one. */
export function keyProblem(key: string): string | undefined {
  const parts = key.split("/");
  if (parts.length > 2) return "a key has at most one '/' (PREFIX/NAME)";
  const name = parts[parts.length - 1] as string;
  if (parts.length === 2) {
    const prefix = parts[0] as string;
    if (prefix === "") return "the prefix before '/' is empty";
    if (prefix.length > 253) return "the prefix is longer than 253 characters";
    if (!DNS1123_SUBDOMAIN.test(prefix)) return "the prefix must be a lower-case DNS subdomain (example.com)";
  }
  if (name === "") return "the name is empty";
  if (name.length > 63) return "the name is longer than 63 characters";
  if (!NAME.test(name)) return "the name must be letters, digits, '-', '_' or '.', beginning and ending with a letter or digit";
  return undefined;
}

/** Why `value` is not a label value (IsValidLabelValue: empty, or a name of at most 63 characters), or undefined. */
export function valueProblem(value: string): string | undefined {
  if (value === "") return undefined;
  if (value.length > 63) return "a value is at most 63 characters";
  if (!NAME.test(value)) return "a value must be letters, digits, '-', '_' or '.', beginning and ending with a letter or digit";
  return undefined;
}
