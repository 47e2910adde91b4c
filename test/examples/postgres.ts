/**
 * A real PostgreSQL server for the examples test: Debian's postgresql-15,
 * initdb'ed into a tmp directory and run as the `postgres` user, listening
 * only on a Unix socket in that directory (no TCP port to collide with
 * anything), and one psql session whose backend process is the one the
 * USDT probes fire in.
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { chownSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import tmp from "tmp";

/** Debian's postgresql-15 server binary, the file `docker/pg:postgres` names in a Debian-based container. */
export const POSTGRES = "/usr/lib/postgresql/15/bin/postgres";
const INITDB = "/usr/lib/postgresql/15/bin/initdb";
const PSQL = "/usr/lib/postgresql/15/bin/psql";

/** A running server and a session on it. */
export class Postgres {
  private constructor(
    private readonly dir: tmp.DirResult,
    private readonly server: ChildProcessWithoutNullStreams,
    private readonly session: ChildProcessWithoutNullStreams,
    /** The postmaster's pid. */
    readonly pid: number,
    /** The pid of the session's backend, where its statements run. */
    readonly backendPid: number,
    private readonly output: { text: string },
  ) {}

  /** initdb, start the server, open a session; fails saying what is missing. */
  static async start(): Promise<Postgres> {
    for (const file of [POSTGRES, INITDB, PSQL]) {
      if (!existsSync(file)) throw new Error(`${file} is missing: install Debian's postgresql-15 (scripts/bootstrap.sh does)`);
    }
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }));
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }));
    const dir = tmp.dirSync({ prefix: "probec-pg-", unsafeCleanup: true, mode: 0o755 });
    chownSync(dir.name, uid, gid);
    const data = join(dir.name, "data");
    execFileSync(INITDB, ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"], { uid, gid, stdio: ["ignore", "ignore", "pipe"] });
    const log = join(dir.name, "log");
    const server = spawn("/bin/sh", ["-c", `exec "$0" -D "$1" -k "$2" -c listen_addresses= -c shared_buffers=16MB 2>"$3"`, POSTGRES, data, dir.name, log], {
      uid,
      gid,
    });
    await until(
      () => existsSync(log) && readFileSync(log, "utf8").includes("ready to accept connections"),
      () => `the server to start; its log:\n${existsSync(log) ? readFileSync(log, "utf8") : ""}`,
      server,
    );
    const session = spawn(PSQL, ["-h", dir.name, "-U", "postgres", "-At", "-v", "ON_ERROR_STOP=1"], { uid, gid });
    const output = { text: "" };
    session.stdout.on("data", (chunk: Buffer) => (output.text += chunk.toString()));
    session.stdin.write("SELECT 'backend ' || pg_backend_pid();\n");
    await until(
      () => /^backend \d+$/m.test(output.text),
      () => `psql to print its backend pid; it printed: ${output.text}`,
      session,
    );
    const backendPid = Number(/^backend (\d+)$/m.exec(output.text)![1]);
    return new Postgres(dir, server, session, server.pid!, backendPid, output);
  }

  /** Runs `sql` in the session and waits until it printed `marker` (end the SQL with a SELECT of it). */
  async query(sql: string, marker: string): Promise<void> {
    this.session.stdin.write(`${sql}\n`);
    await until(
      () => this.output.text.includes(marker),
      () => `psql to print ${marker}; it printed: ${this.output.text}`,
      this.session,
    );
  }

  /** Ends the session, stops the server (fast shutdown) and removes its directory. */
  async stop(): Promise<void> {
    this.session.stdin.end();
    await exited(this.session);
    if (this.server.exitCode === null && this.server.signalCode === null) {
      this.server.kill("SIGINT");
      await exited(this.server);
    }
    this.dir.removeCallback();
  }
}

function exited(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

async function until(ok: () => boolean, what: () => string, child: ChildProcessWithoutNullStreams): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (ok()) return;
    if (child.exitCode !== null) throw new Error(`exited (${child.exitCode}) while waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`timed out waiting for ${what()}`);
}
