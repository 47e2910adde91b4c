// The real program of task (o)'s real-stack rows: a plain `node` script
// (run by the system /usr/bin/node, not by the bench's own Node) that
// exercises as much of node as a small script can (every builtin module,
// V8's parser and compilers, ICU, OpenSSL, zlib and brotli, libuv's thread
// pool and sockets, workers, the inspector, vm contexts, WebAssembly), so
// that `count by ustack` on libc's malloc sees well over 10,000 distinct
// user stacks, the way a real service's allocations spread over its code.
//
// Protocol, so that the bench's capture is deterministic: the script
// prints "ready" and waits; the bench attaches its probe, then writes a
// line to stdin; the script runs its work once (a fixed amount of each
// kind, not a fixed time, so a loaded machine gives the same stacks, only
// later), prints "done", and then idles until killed, because the
// symbolizer reads its /proc/PID/maps afterwards. When stdin closes (the
// bench went away) it exits, so it is never left behind.
"use strict";

const ROUNDS = Number(process.argv[2] ?? 40);

process.stdin.setEncoding("utf8");
process.stdin.on("end", () => process.exit(0));
process.stdin.once("data", () => {
  work().then(
    (n) => process.stdout.write(`done ${n}\n`),
    (error) => {
      process.stderr.write(`workload failed: ${error && error.stack ? error.stack : error}\n`);
      process.exit(1);
    },
  );
});
process.stdout.write("ready\n");

async function work() {
  let ops = 0;
  // Every public builtin module: their JavaScript is compiled on first require. The
  // deprecated "_tls_common" & co. are left out: required first, they leave
  // tls.createSecureContext undefined (a require cycle inside node).
  for (const name of require("node:module").builtinModules.filter((n) => !n.startsWith("_"))) {
    try {
      require(name);
      ops++;
    } catch {
      // internal or experimental ones that refuse
    }
  }
  const state = setUp();
  for (let round = 0; round < ROUNDS; round++) {
    for (const step of SYNC_STEPS) {
      step(round, state);
      ops++;
    }
    for (const step of ASYNC_STEPS) {
      await step(round, state);
      ops++;
    }
  }
  await tearDown(state);
  return ops;
}

function setUp() {
  const fs = require("node:fs");
  const os = require("node:os");
  const path = require("node:path");
  const http = require("node:http");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "probec-bench-workload-"));
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ url: req.url, length: body.length, headers: req.headers }));
    });
  });
  return { dir, server, listening: new Promise((resolve) => server.listen(0, "127.0.0.1", resolve)) };
}

async function tearDown(state) {
  await new Promise((resolve) => state.server.close(resolve));
  require("node:fs").rmSync(state.dir, { recursive: true, force: true });
}

const LOCALES = ["en-US", "de-DE", "fr-FR", "ja-JP", "zh-CN", "ar-EG", "ru-RU", "hi-IN", "es-ES", "pt-BR", "ko-KR", "tr-TR", "he-IL", "th-TH", "sv-SE", "pl-PL"];
const ENCODINGS = ["utf-8", "utf-16le", "latin1", "windows-1252", "shift_jis", "euc-jp", "gbk", "big5", "euc-kr", "iso-8859-2", "koi8-r", "windows-1251"];
const PATTERNS = [
  "a+b*c?",
  "(\\d{1,3}\\.){3}\\d{1,3}",
  "^(?<user>[\\w.]+)@(?<host>[\\w.-]+)$",
  "(?<=\\$)\\d+(\\.\\d\\d)?",
  "\\p{Script=Greek}+",
  "[\\u{1F600}-\\u{1F64F}]",
  "(foo|bar|baz){2,}",
  "\\b\\w+\\b",
  "(a|b)*?c",
  "[^\\s,;]+",
];

const SYNC_STEPS = [
  function compression(round) {
    const zlib = require("node:zlib");
    const input = Buffer.from(`${"probec ".repeat(50 + round * 7)}${round}`);
    zlib.gunzipSync(zlib.gzipSync(input, { level: 1 + (round % 9) }));
    zlib.inflateSync(zlib.deflateSync(input));
    zlib.inflateRawSync(zlib.deflateRawSync(input, { memLevel: 1 + (round % 9) }));
    zlib.brotliDecompressSync(zlib.brotliCompressSync(input, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: round % 12 } }));
    zlib.unzipSync(zlib.gzipSync(input));
    zlib.crc32?.(input);
  },
  function hashing(round) {
    const crypto = require("node:crypto");
    const hashes = crypto.getHashes();
    for (let i = 0; i < 6; i++) {
      const algorithm = hashes[(round * 6 + i) % hashes.length];
      try {
        crypto.createHash(algorithm).update(`data ${round}`).digest("hex");
        crypto.createHmac(algorithm, "key").update(`data ${round}`).digest("base64");
      } catch {
        // shake and a few others need options
      }
    }
    crypto.pbkdf2Sync("secret", "salt", 10 + round, 32, "sha256");
    crypto.scryptSync("secret", "salt", 16, { N: 16 });
    crypto.randomBytes(64 + round);
    crypto.randomUUID();
    crypto.hkdfSync("sha512", "key", "salt", "info", 64);
  },
  function ciphers(round) {
    const crypto = require("node:crypto");
    const names = ["aes-128-cbc", "aes-256-cbc", "aes-128-ctr", "aes-256-gcm", "chacha20-poly1305", "aes-192-cfb", "aes-256-ofb"];
    const name = names[round % names.length];
    const key = crypto.randomBytes(name.includes("128") ? 16 : name.includes("192") ? 24 : 32);
    const iv = crypto.randomBytes(name.includes("gcm") || name.includes("chacha") ? 12 : 16);
    const options = name.includes("chacha") ? { authTagLength: 16 } : undefined;
    const cipher = crypto.createCipheriv(name, key, iv, options);
    const sealed = Buffer.concat([cipher.update(`message ${round}`.repeat(round + 1)), cipher.final()]);
    const decipher = crypto.createDecipheriv(name, key, iv, options);
    if (cipher.getAuthTag !== undefined && (name.includes("gcm") || name.includes("chacha"))) decipher.setAuthTag(cipher.getAuthTag());
    Buffer.concat([decipher.update(sealed), decipher.final()]);
  },
  function keys(round) {
    const crypto = require("node:crypto");
    const kinds = [
      ["ec", { namedCurve: "prime256v1" }],
      ["ec", { namedCurve: "secp384r1" }],
      ["ed25519", {}],
      ["x25519", {}],
      ["rsa", { modulusLength: 512 }],
      ["ed448", {}],
    ];
    const [kind, options] = kinds[round % kinds.length];
    const { publicKey, privateKey } = crypto.generateKeyPairSync(kind, options);
    publicKey.export({ type: "spki", format: "pem" });
    privateKey.export({ type: "pkcs8", format: "der" });
    if (kind !== "x25519") {
      const algorithm = kind === "ec" || kind === "rsa" ? "sha256" : null;
      const signature = crypto.sign(algorithm, Buffer.from(`signed ${round}`), privateKey);
      crypto.verify(algorithm, Buffer.from(`signed ${round}`), publicKey, signature);
    }
    try {
      publicKey.export({ format: "jwk" });
    } catch {
      // not every kind has a JWK form
    }
    const ecdh = crypto.createECDH("prime256v1");
    ecdh.generateKeys();
    require("node:tls").createSecureContext({});
  },
  function intl(round) {
    const locale = LOCALES[round % LOCALES.length];
    const date = new Date(Date.UTC(2020, round % 12, 1 + (round % 28), round % 24));
    new Intl.NumberFormat(locale, { style: "currency", currency: "EUR" }).format(1234567.891 * round);
    new Intl.NumberFormat(locale, { notation: "compact" }).format(round * 98765);
    new Intl.DateTimeFormat(locale, { dateStyle: "full", timeStyle: "long", timeZone: "Asia/Tokyo" }).format(date);
    new Intl.RelativeTimeFormat(locale, { numeric: "auto" }).format(-round, "day");
    new Intl.ListFormat(locale).format(["a", "b", String(round)]);
    new Intl.PluralRules(locale).select(round);
    new Intl.Collator(locale).compare("résumé", `resume${round}`);
    [...new Intl.Segmenter(locale, { granularity: "word" }).segment(`Hello world, round ${round}. 你好世界`)];
    new Intl.DisplayNames([locale], { type: "region" }).of("JP");
    date.toLocaleString(locale);
    `Straße ${round} ǅ İ`.toLocaleUpperCase(locale).normalize(["NFC", "NFD", "NFKC", "NFKD"][round % 4]);
    "a".localeCompare("b", locale);
  },
  function textCodecs(round) {
    const encoding = ENCODINGS[round % ENCODINGS.length];
    try {
      new TextDecoder(encoding).decode(Buffer.from(`text ${round} \u00e9\u00e8`, "latin1"));
    } catch {
      // an encoding this build lacks
    }
    new TextEncoder().encode(`text ${round} ✓`);
    Buffer.from(`x`.repeat(round * 13), "utf8").toString(["base64", "hex", "base64url", "latin1", "ucs2"][round % 5]);
    require("node:buffer").transcode(Buffer.from(`text ${round}`), "utf8", "ucs2");
    new (require("node:string_decoder").StringDecoder)("utf8").write(Buffer.from([0xe2, 0x82, 0xac]));
  },
  function regexps(round) {
    for (const source of PATTERNS) {
      const re = new RegExp(`${source}${round % 3 === 0 ? "" : `|x${round}`}`, ["gu", "giu", "gyu", "gmu", "gsu", "gdu"][round % 6]);
      `user.name@example.com $12.50 αβγ 😀 foo bar baz foo ${round}`.replace(re, "_");
      re.exec("192.168.1.1 aabbbc");
    }
  },
  function compileCode(round) {
    const vm = require("node:vm");
    // Fresh source every round: V8 parses and compiles each (no code cache hit).
    const body = `let s = 0; for (let i = 0; i < ${100 + round}; i++) { s += i * ${round} % 7; } return [s, {a: ${round}}, \`t\${s}\`];`;
    new Function("x", body)(round);
    const context = vm.createContext({ round, console: undefined });
    vm.runInContext(`class C${round} { #p = ${round}; get p() { return this.#p; } } new C${round}().p + [1,2,3].map(x => x * round).length`, context);
    new vm.Script(`(function f${round}() { return ${JSON.stringify({ round, list: [round, round + 1] })}; })()`, { filename: `w${round}.js` }).runInThisContext();
    eval(`(async function* g${round}() { yield ${round}; })`);
  },
  function wasm(round) {
    // (module (func (export "f") (param i32) (result i32) local.get 0 i32.const ROUND i32.add))
    const bytes = new Uint8Array([
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00, 0x07, 0x05, 0x01, 0x01, 0x66,
      0x00, 0x00, 0x0a, 0x09, 0x01, 0x07, 0x00, 0x20, 0x00, 0x41, round & 0x3f, 0x6a, 0x0b,
    ]);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    instance.exports.f(round);
    new WebAssembly.Memory({ initial: 1, maximum: 2 + (round % 4) }).grow(1);
  },
  function files(round, state) {
    const fs = require("node:fs");
    const path = require("node:path");
    const file = path.join(state.dir, `f${round}.json`);
    fs.writeFileSync(file, JSON.stringify({ round, data: "x".repeat(round * 31) }));
    JSON.parse(fs.readFileSync(file, "utf8"));
    fs.statSync(file);
    fs.realpathSync(file);
    fs.readdirSync(state.dir, { withFileTypes: true });
    fs.renameSync(file, `${file}.old`);
    fs.copyFileSync(`${file}.old`, file);
    fs.unlinkSync(`${file}.old`);
    fs.existsSync("/proc/self/status") && fs.readFileSync("/proc/self/status", "latin1");
    require("node:child_process").spawnSync("/bin/true");
  },
  function introspection(round) {
    const util = require("node:util");
    const v8 = require("node:v8");
    const os = require("node:os");
    const value = { round, list: Array.from({ length: round % 20 }, (_, i) => ({ i, s: `s${i}` })), map: new Map([[round, new Set([1, 2])]]) };
    util.inspect(value, { depth: 4, colors: round % 2 === 0 });
    util.format("%s %d %j %o", "a", round, value, value);
    v8.deserialize(v8.serialize(value));
    structuredClone(value);
    v8.getHeapStatistics();
    v8.getHeapSpaceStatistics();
    process.memoryUsage();
    process.resourceUsage();
    os.cpus();
    os.networkInterfaces();
    os.userInfo();
    new URL(`https://user:pw@example.com:8${round}/a/b/../c?q=${round}#h`).searchParams.append("k", String(round));
    new URLSearchParams(`a=1&b=${round}&c=%20`).toString();
    require("node:querystring").parse(`x=${round}&y=z`);
    require("node:path").resolve("/a/b", `../c${round}`);
    if (round % 10 === 0) process.report.getReport();
    if (round % 8 === 0) v8.getHeapCodeStatistics();
  },
  function collections(round) {
    const map = new Map();
    const object = {};
    for (let i = 0; i < 200 + round * 10; i++) {
      map.set(`k${i}`, i);
      object[`p${i % 97}`] = [i, `${i}`];
    }
    JSON.parse(JSON.stringify(object));
    new Float64Array(1000 + round).sort();
    Array.from({ length: 500 }, (_, i) => `s${(i * 7919) % 500}`).sort();
    new SharedArrayBuffer(1024 * (1 + (round % 8)));
    new WeakRef({ round });
    new FinalizationRegistry(() => {}).register({}, round);
  },
];

const ASYNC_STEPS = [
  async function asyncFiles(round, state) {
    const fsp = require("node:fs/promises");
    const path = require("node:path");
    const file = path.join(state.dir, `a${round}.txt`);
    await fsp.writeFile(file, `async ${round}\n`.repeat(round + 1));
    await fsp.readFile(file, "utf8");
    await fsp.stat(file);
    const handle = await fsp.open(file, "r");
    await handle.read(Buffer.alloc(16), 0, 16, 0);
    await handle.close();
    await fsp.rm(file);
  },
  async function threadPool(round) {
    const { promisify } = require("node:util");
    const crypto = require("node:crypto");
    const zlib = require("node:zlib");
    await Promise.all([
      promisify(crypto.pbkdf2)("pw", "salt", 20, 32, "sha512"),
      promisify(crypto.scrypt)("pw", "salt", 16, { N: 16 }),
      promisify(zlib.gzip)(Buffer.alloc(2000 + round, round)),
      promisify(crypto.generateKeyPair)("ec", { namedCurve: "prime256v1" }),
      promisify(require("node:dns").lookup)("localhost"),
      crypto.webcrypto.subtle.digest("SHA-256", Buffer.from(`x${round}`)),
    ]);
  },
  async function httpRoundTrip(round, state) {
    await state.listening;
    const { port } = state.server.address();
    const body = JSON.stringify({ round, pad: "p".repeat(round * 17) });
    const text = await new Promise((resolve, reject) => {
      const req = require("node:http").request(
        { host: "127.0.0.1", port, path: `/r/${round}?q=${round}`, method: "POST", headers: { "x-round": String(round) } },
        (res) => {
          let data = "";
          res.on("data", (c) => (data += c));
          res.on("end", () => resolve(data));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
    JSON.parse(text);
  },
  async function streams(round) {
    const { pipeline } = require("node:stream/promises");
    const { Readable, Writable } = require("node:stream");
    const zlib = require("node:zlib");
    let bytes = 0;
    await pipeline(
      Readable.from(Array.from({ length: 10 + round }, (_, i) => `line ${i} of ${round}\n`)),
      zlib.createDeflate(),
      zlib.createInflate(),
      new Writable({
        write(chunk, _encoding, callback) {
          bytes += chunk.length;
          callback();
        },
      }),
    );
    return bytes;
  },
  async function inspector(round) {
    if (round % 5 !== 0) return;
    const { Session } = require("node:inspector");
    const session = new Session();
    session.connect();
    const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
    await post("Profiler.enable");
    await post("Profiler.start");
    for (let i = 0; i < 2000; i++) JSON.stringify({ i });
    await post("Profiler.stop");
    await post("Runtime.evaluate", { expression: `[${round}, 2, 3].map(x => x * 2)` });
    await post("HeapProfiler.collectGarbage");
    session.disconnect();
  },
  async function worker(round) {
    // A new isolate and event loop in a thread of this process: V8's and libuv's start-up allocations.
    if (round % 4 !== 0) return;
    const { Worker } = require("node:worker_threads");
    await new Promise((resolve, reject) => {
      const w = new Worker(
        `const { parentPort } = require("node:worker_threads"); parentPort.postMessage(require("node:crypto").createHash("sha1").update("${round}").digest("hex") + new Intl.NumberFormat("de").format(${round}));`,
        { eval: true },
      );
      w.once("message", () => {});
      w.once("error", reject);
      w.once("exit", resolve);
    });
  },
];
