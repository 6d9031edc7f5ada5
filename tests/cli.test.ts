/**
 * The CLI as a user runs it, spawned on the runtime running this file (`node --import tsx`,
 * `deno run -A`, `bun`): help, bad flags, a taken port, an unwritable storage directory, serving
 * and logging, and stopping on SIGTERM after in-flight requests finish.
 *
 * @module
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";
import { suite } from "uvu";
import { REQUEST_LOG_PATTERN } from "../lib/server/log.ts";
import { detectRuntime } from "../lib/server/serve.ts";
import { type ChildRun, REPO_ROOT, spawnCli, spawnProcess } from "./support/cli_process.ts";

const RUNTIME = detectRuntime();

/** Run the CLI in `cwd`. */
function run(args: string[], cwd: string): ChildRun {
  return spawnCli(args, { cwd });
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
    assert.equal(first[5], "0", "bytes in");
    assert.equal(first[6], "2", "bytes out");
    const second = await cli.waitFor(/ GET \/v2\/some\/repo\/tags\/list\?n=5 404 /);
    assert.match(second.input, REQUEST_LOG_PATTERN);
  } finally {
    cli.signal("SIGTERM");
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
    await cli.waitFor(/ GET \/v2\/ 200 in=0 out=2 /);
    cli.signal("SIGTERM");
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
  cli.signal("SIGTERM");
  await sleep(300);
  assert.equal(cli.child.exitCode, null, "still running while the upload is in flight");
  socket.write(new Uint8Array(1000));
  assert.equal(await cli.exited, 0);
  assert.match(answer, /^HTTP\/1\.1 202/);
  assert.match(answer, /\r\nrange: 0-1999\r\n/i);
  socket.destroy();
  assert.match(
    cli.stdout(),
    new RegExp(` PATCH ${location} 202 in=2000 out=0 \\d+(\\.\\d)?ms$`, "m"),
  );
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
  cli.signal("SIGTERM");
  await sleep(300);
  assert.equal(cli.child.exitCode, null, "the first signal waits for the stalled upload");
  cli.signal("SIGTERM");
  const code = await cli.exited;
  assert.ok(Date.now() - started < 5000, "exits well before the 10 s bound");
  assert.equal(code, 143);
  socket.destroy();
});

test("`deno serve --config REPO/deno.json REPO/lib/cli/deno_serve.ts` serves from another directory, with storage from FETCH_REGISTRY_STORAGE", async () => {
  const storage = join(cwd, "deno-serve-data");
  const serve = spawnProcess(
    join(REPO_ROOT, "node_modules", ".bin", "deno"),
    [
      "serve",
      "-A",
      "--config",
      join(REPO_ROOT, "deno.json"),
      "--port",
      "0",
      join(REPO_ROOT, "lib", "cli", "deno_serve.ts"),
    ],
    { cwd, env: { FETCH_REGISTRY_STORAGE: `fs:${storage}` } },
  );
  try {
    // waitFor strips colour codes: Deno colours its banner when FORCE_COLOR is set at all.
    const [, port] = await serve.waitFor(/Listening on http:\/\/[^\s]*:(\d+)\//);
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
    await serve.stop();
  }
});

test("`bun lib/cli/deno_serve.ts` binds 127.0.0.1 and says where it listens", async () => {
  const serve = spawnProcess(
    join(REPO_ROOT, "node_modules", ".bin", "bun"),
    [join(REPO_ROOT, "lib", "cli", "deno_serve.ts")],
    { cwd, env: { FETCH_REGISTRY_STORAGE: "memory", PORT: "0" } },
  );
  try {
    await serve.waitFor(/^fetch-registry: Bun serves on 127\.0\.0\.1:/m);
    const [, host, port] = await serve.waitFor(/Started server: http:\/\/([^\s:]+):(\d+)/);
    assert.equal(host, "127.0.0.1");
    const res = await fetch(`http://127.0.0.1:${port}/v2/`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    await serve.stop();
  }
});

test("--version prints the package's version; --help names the commands an installed package has", async () => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8"));
  const version = run(["--version"], cwd);
  assert.equal(await version.exited, 0);
  assert.equal(version.stdout(), `fetch-registry ${pkg.version}\n`);
  const help = run(["--help"], cwd);
  assert.equal(await help.exited, 0);
  assert.match(help.stdout(), /npx fetch-registry/);
  assert.match(help.stdout(), /npm start -- /);
  assert.doesNotMatch(help.stdout(), /lib\/[\w/]+\.ts/, "no source file names");
});

test("run by npm, an argument whose flag npm took gets a hint to put the flags after --", async () => {
  const cli = spawnCli(["6150"], {
    cwd,
    env: { npm_lifecycle_event: "start", npm_config_port: "true" },
  });
  assert.equal(await cli.exited, 2);
  assertOneLine(
    cli.stderr(),
    /^fetch-registry: unexpected argument "6150": npm keeps the options given before "--" for itself; put them after it: npm start -- --port 6150/,
  );
});

test.run();
