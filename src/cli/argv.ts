/**
 * The common, well-formed command lines parsed without yargs. Loading and
 * configuring yargs costs more than most of what `probec list FILE` does
 * (issue 13), so a line made only of a command, its positionals and
 * `--option value` pairs this table knows is parsed here; anything else
 * (`--help`, an unknown or repeated option, `--no-x`, `--`, a value that is
 * not plainly valid, a missing positional, `check` with its variadic specs)
 * returns undefined and goes to yargs, which renders help and every usage
 * error (./yargs-cli.ts). The result has the shape yargs gives for the same
 * line, as far as run.ts reads it; test/cli-argv.test.ts compares the two.
 */
import { PATH_STRATEGY_NAMES } from "../plan/strategies.js";

/** One option as ./yargs-cli.ts declares it (the parts parsing needs). */
interface OptionSpec {
  readonly type: "boolean" | "string" | "number";
  /** The one-letter alias (`-f`). */
  readonly alias?: string;
  readonly choices?: readonly string[];
}

/** One command: its positionals in order (how many are required) and its options. */
interface CommandSpec {
  readonly positionals: readonly string[];
  readonly required: number;
  readonly options: Readonly<Record<string, OptionSpec>>;
}

const session: Record<string, OptionSpec> = {
  json: { type: "boolean" },
  duration: { type: "number" },
  count: { type: "number" },
  mode: { type: "string", choices: ["auto", "multi", "pmu", "legacy"] },
  strategy: { type: "string", choices: PATH_STRATEGY_NAMES },
  quiet: { type: "boolean", alias: "q" },
  metrics: { type: "string" },
  folded: { type: "boolean" },
  flamegraph: { type: "string" },
};

/** The commands parsed here (`check` is not: its specs are variadic). Option names are yargs' (camelCase keys are the same words here). */
const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  list: { positionals: ["target", "pattern"], required: 1, options: { functions: { type: "boolean", alias: "f" }, json: { type: "boolean" } } },
  resolve: { positionals: ["scope"], required: 0, options: { json: { type: "boolean" } } },
  compile: {
    positionals: ["file"],
    required: 1,
    options: { output: { type: "string", alias: "o" }, strategy: { type: "string", choices: PATH_STRATEGY_NAMES }, explain: { type: "boolean" } },
  },
  run: { positionals: ["file"], required: 1, options: session },
  trace: { positionals: ["probe"], required: 1, options: session },
};

/** A plain decimal number, as yargs would read it the same way (no sign, exponent, hex or spaces). */
const PLAIN_NUMBER = /^(0|[1-9][0-9]*)(\.[0-9]+)?$/;

/** Parsed arguments in yargs' shape (`_` holds the command), or undefined: let yargs parse this line. */
export function parseArgv(argv: readonly string[]): (Record<string, unknown> & { _: string[] }) | undefined {
  const command = argv[0];
  const spec = command === undefined ? undefined : COMMANDS[command];
  if (command === undefined || spec === undefined) return undefined;
  const args: Record<string, unknown> & { _: string[] } = { _: [command] };
  const positionals: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const word = argv[i] ?? "";
    if (word === "") return undefined;
    if (!word.startsWith("-")) {
      positionals.push(word);
      continue;
    }
    // `--name`, `--name=value` or `-x`; anything else (`--`, `-abc`, `-`, `--no-name`) is yargs' to read.
    const long = /^--([a-z][a-z-]*)(?:=(.*))?$/s.exec(word);
    const short = /^-([a-zA-Z])$/.exec(word);
    let name: string | undefined;
    let inline: string | undefined;
    if (long !== null) {
      name = long[1];
      inline = long[2];
    } else if (short !== null) {
      name = Object.keys(spec.options).find((key) => spec.options[key]?.alias === short[1]);
    }
    const option = name === undefined ? undefined : spec.options[name];
    if (name === undefined || option === undefined || name in args) return undefined;
    if (option.type === "boolean") {
      // yargs reads a following "true"/"false" as the flag's value, and `--flag=…` too: leave those to it.
      const next = argv[i + 1];
      if (inline !== undefined || next === "true" || next === "false") return undefined;
      args[name] = true;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined || value.startsWith("-")) return undefined;
      i++;
    }
    if (option.choices !== undefined && !option.choices.includes(value)) return undefined;
    if (option.type === "number") {
      if (!PLAIN_NUMBER.test(value)) return undefined;
      args[name] = Number(value);
    } else {
      if (value === "") return undefined;
      args[name] = value;
    }
  }
  if (positionals.length < spec.required || positionals.length > spec.positionals.length) return undefined;
  spec.positionals.forEach((name, i) => {
    if (positionals[i] !== undefined) args[name] = positionals[i];
  });
  return args;
}
