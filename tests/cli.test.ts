/**
 * The CLI as a user runs it, spawned on the runtime running this file (`node --import tsx`,
 * `deno run -A`, `bun`): help, bad flags, a taken port, an unwritable storage directory, serving
 * and logging, and stopping on SIGTERM after in-flight requests finish.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import assert from "node:assert/strict";
import { suite } from "uvu";
import { REQUEST_LOG_PATTERN } from "../lib/server/log.ts";
import { detectRuntime } from "../lib/server/serve.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CLI = join(ROOT, "lib", "cli.ts");
const RUNTIME = detectRuntime();

/** The command that runs the CLI on this runtime. */
function command(args: string[]): [string, string[]] {
  switch (RUNTIME) {
    case "deno":
      return [process.execPath, ["run", "-A", "--no-prompt", CLI, ...args]];
    case "bun":
      return [process.execPath, [CLI, ...args]];
    default: {
      const tsx = pathToFileURL(join(ROOT, "node_modules", "tsx", "dist", "loader.mjs")).href;
      return [process.execPath, ["--import", tsx, CLI, ...args]];
    }
  }
}

/** A spawned CLI with its output collected. */
interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  /** Resolves with the first stdout line matching `pattern`. */
  waitFor(pattern: RegExp, ms?: number): Promise<RegExpExecArray>;
}

function run(args: string[], cwd: string): Running {
  const [cmd, argv] = command(args);
  const child = spawn(cmd, argv, {
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  let out = "";
  let err = "";
  const watchers: (() => void)[] = [];
  child.stdout!.on("data", (d: Uint8Array) => {
    out += new TextDecoder().decode(d);
    for (const w of watchers) w();
  });
  child.stderr!.on("data", (d: Uint8Array) => (err += new TextDecoder().decode(d)));
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? signal ?? -1));
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, ms = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${pattern}; stdout ${out}; stderr ${err}`)),
          ms,
        );
        const check = () => {
          for (const line of out.split("\n")) {
            const m = pattern.exec(line);
            if (m) {
              clearTimeout(timer);
              resolve(m);
              return;
            }
          }
        };
        watchers.push(check);
        exited.then(() => {
          check();
          setTimeout(
            () => reject(new Error(`exited before ${pattern}; stdout ${out}; stderr ${err}`)),
            10,
          );
        });
        check();
      });
    },
  };
}

const LISTENING =
  /^fetch-registry listening on (http:\/\/127\.0\.0\.1:(\d+)) \((node|deno|bun), (node:http|Deno\.serve|Bun\.serve), storage ([^)]+)\) — push to 127\.0\.0\.1:(\d+)\/<name>$/;

/** Exactly one non-empty line, and no stack trace. */
function assertOneLine(text: string, pattern: RegExp): void {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  assert.equal(lines.length, 1, `expected one line, got ${JSON.stringify(text)}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(text, /^\s+at /m);
}

/**
 * Send `sig` by pid: Deno's `ChildProcess.kill()` makes the child look killed by the signal even
 * when it handled it and exited 0.
 */
function signal(cli: Running, sig: "SIGTERM" | "SIGINT"): void {
  process.kill(cli.child.pid!, sig);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const test = suite(`cli (${RUNTIME})`);
let cwd = "";

test.before(() => {
  cwd = mkdtempSync(join(tmpdir(), "fetch-registry-cli-"));
});

test.after(() => {
  rmSync(cwd, { recursive: true, force: true });
});

test("--help prints usage with every flag and exits 0", async () => {
  const cli = run(["--help"], cwd);
  assert.equal(await cli.exited, 0);
  const out = cli.stdout();
  assert.match(out, /^Usage: fetch-registry/m);
  for (const flag of ["--host", "--port", "--storage", "--help"]) {
    assert.ok(out.includes(flag), flag);
  }
  assert.ok(out.includes("fs:./data"));
  assert.equal(cli.stderr(), "");
});

test("a bad flag is one line on stderr and exit 2", async () => {
  const cli = run(["--nope"], cwd);
  assert.equal(await cli.exited, 2);
  assertOneLine(cli.stderr(), /^fetch-registry: unknown flag --nope \(see --help\)$/);
  const port = run(["--port", "http"], cwd);
  assert.equal(await port.exited, 2);
  assertOneLine(port.stderr(), /^fetch-registry: --port must be a number from 0 to 65535/);
  const server = run(["--server", "fast"], cwd);
  assert.equal(await server.exited, 2);
  assertOneLine(server.stderr(), /^fetch-registry: --server must be auto, native or node/);
  const missing = run(["--storage"], cwd);
  assert.equal(await missing.exited, 2);
  assertOneLine(missing.stderr(), /^fetch-registry: --storage needs a value/);
});

test("a port in use is one line on stderr and exit 1", async () => {
  const blocker: Server = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
  const port = (blocker.address() as { port: number }).port;
  try {
    const cli = run(["--port", String(port), "--storage", "memory"], cwd);
    assert.equal(await cli.exited, 1);
    assertOneLine(
      cli.stderr(),
      new RegExp(`^fetch-registry: port ${port} on 127\\.0\\.0\\.1 is already in use`),
    );
  } finally {
    await new Promise((r) => blocker.close(r));
  }
});

test("an unwritable storage directory is one line on stderr and exit 1", async () => {
  const file = join(cwd, "a-file");
  writeFileSync(file, "not a directory");
  const cli = run(["--port", "0", "--storage", `fs:${file}/data`], cwd);
  assert.equal(await cli.exited, 1);
  assertOneLine(cli.stderr(), /^fetch-registry: storage directory .*a-file\/data is not writable/);
  const unknown = run(["--port", "0", "--storage", "floppy:a"], cwd);
  assert.equal(await unknown.exited, 1);
  assertOneLine(unknown.stderr(), /^fetch-registry: unknown storage "floppy:a"/);
});

test("serves with fs:./data by default, prints where to push, logs one line per request", async () => {
  const cli = run(["--port", "0"], cwd);
  try {
    const m = await cli.waitFor(LISTENING);
    const [, url, port, runtime, server, storage, pushPort] = m;
    assert.equal(runtime, RUNTIME);
    assert.equal(server, RUNTIME === "bun" ? "Bun.serve" : "node:http");
    assert.equal(storage, "fs:./data");
    assert.equal(pushPort, port);
    assert.ok(existsSync(join(cwd, "data")), "./data is created in the working directory");
    const res = await fetch(`${url}/v2/`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const missing = await fetch(`${url}/v2/some/repo/tags/list?n=5`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const first = await cli.waitFor(REQUEST_LOG_PATTERN);
    assert.equal(first[2], "GET");
    assert.equal(first[3], "/v2/");
    assert.equal(first[4], "200");
    assert.equal(first[5], "2");
    const second = await cli.waitFor(/ GET \/v2\/some\/repo\/tags\/list\?n=5 404 /);
    assert.match(second.input, REQUEST_LOG_PATTERN);
  } finally {
    signal(cli, "SIGTERM");
    assert.equal(await cli.exited, 0);
  }
});

test("--server native and --server node serve too", async () => {
  const expected: Record<string, string> = {
    native: RUNTIME === "deno" ? "Deno.serve" : RUNTIME === "bun" ? "Bun.serve" : "node:http",
    node: "node:http",
  };
  for (const kind of ["native", "node"]) {
    const cli = run(["--port", "0", "--storage", "memory", "--server", kind], cwd);
    const [, url, , , server] = await cli.waitFor(LISTENING);
    assert.equal(server, expected[kind]);
    const res = await fetch(`${url}/v2/`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    await cli.waitFor(/ GET \/v2\/ 200 2 /);
    signal(cli, "SIGTERM");
    assert.equal(await cli.exited, 0);
  }
});

test("SIGTERM lets an in-flight upload finish, then exits 0", async () => {
  const cli = run(["--port", "0", "--storage", "memory"], cwd);
  const [, url, port] = await cli.waitFor(LISTENING);
  const post = await fetch(`${url}/v2/term/blobs/uploads/`, { method: "POST" });
  assert.equal(post.status, 202);
  const location = post.headers.get("Location")!;
  await post.body?.cancel();
  const socket = connect(Number(port), "127.0.0.1");
  await new Promise((r) => socket.once("connect", r));
  let answer = "";
  socket.on("data", (d: Uint8Array) => (answer += new TextDecoder().decode(d)));
  socket.write(
    `PATCH ${location} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: 2000\r\n\r\n`,
  );
  socket.write(new Uint8Array(1000));
  await sleep(200);
  signal(cli, "SIGTERM");
  await sleep(300);
  assert.equal(cli.child.exitCode, null, "still running while the upload is in flight");
  socket.write(new Uint8Array(1000));
  assert.equal(await cli.exited, 0);
  assert.match(answer, /^HTTP\/1\.1 202/);
  assert.match(answer, /\r\nrange: 0-1999\r\n/i);
  socket.destroy();
  assert.match(cli.stdout(), new RegExp(` PATCH ${location} 202 2000 \\d+(\\.\\d)?ms$`, "m"));
  assert.match(cli.stderr(), /SIGTERM/);
});

test("a second signal exits at once", async () => {
  const cli = run(["--port", "0", "--storage", "memory"], cwd);
  const [, url, port] = await cli.waitFor(LISTENING);
  const post = await fetch(`${url}/v2/twice/blobs/uploads/`, { method: "POST" });
  const location = post.headers.get("Location")!;
  await post.body?.cancel();
  const socket = connect(Number(port), "127.0.0.1");
  socket.on("error", () => {});
  await new Promise((r) => socket.once("connect", r));
  socket.write(
    `PATCH ${location} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Length: 2000\r\n\r\n`,
  );
  await sleep(200);
  const started = Date.now();
  signal(cli, "SIGTERM");
  await sleep(300);
  assert.equal(cli.child.exitCode, null, "the first signal waits for the stalled upload");
  signal(cli, "SIGTERM");
  const code = await cli.exited;
  assert.ok(Date.now() - started < 5000, "exits well before the 10 s bound");
  assert.equal(code, 143);
  socket.destroy();
});

test("`deno serve -A --port 0 lib/deno_serve.ts` serves, with storage from FETCH_REGISTRY_STORAGE", async () => {
  const storage = join(cwd, "deno-serve-data");
  const child = spawn(join(ROOT, "node_modules", ".bin", "deno"), [
    "serve",
    "-A",
    "--port",
    "0",
    "lib/deno_serve.ts",
  ], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", FETCH_REGISTRY_STORAGE: `fs:${storage}` },
  });
  const exited = new Promise((r) => child.on("exit", r));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 30_000);
      const onData = (d: Uint8Array) => {
        // Colour codes stripped: Deno colours its banner when FORCE_COLOR is set at all.
        // deno-lint-ignore no-control-regex
        out += new TextDecoder().decode(d).replace(/\x1b\[[0-9;]*m/g, "");
        const m = /Listening on http:\/\/[^\s]*:(\d+)\//.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
    });
    const res = await fetch(`http://127.0.0.1:${port}/v2/`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {});
    const post = await fetch(`http://127.0.0.1:${port}/v2/served/blobs/uploads/`, {
      method: "POST",
    });
    assert.equal(post.status, 202);
    await post.body?.cancel();
    assert.ok(existsSync(storage), "the fs storage named by FETCH_REGISTRY_STORAGE is used");
  } finally {
    process.kill(child.pid!, "SIGTERM");
    await exited;
  }
});

test.run();
