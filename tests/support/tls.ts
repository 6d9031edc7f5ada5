/**
 * TLS fixtures: a self-signed certificate made at test time with `openssl req -x509` (for
 * 127.0.0.1 and localhost), and a `fetch` that trusts it, on each runtime: Deno's
 * `Deno.createHttpClient({ caCerts })`, Bun's `fetch(url, { tls: { ca } })`, and on Node a
 * node:https request with `ca` (Node's global fetch takes no CA without an undici Agent).
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { detectRuntime } from "../../lib/server/serve.ts";
import type { FetchHandler } from "./http.ts";

/** A self-signed certificate and its files. */
export interface TestCert {
  /** PEM certificate (also the CA to trust). */
  cert: string;
  /** PEM private key. */
  key: string;
  /** Path of the certificate file. */
  certFile: string;
  /** Path of the key file. */
  keyFile: string;
}

/**
 * Make a self-signed EC P-256 server certificate (not a CA) for 127.0.0.1 and localhost in `dir`.
 *
 * @example
 * ```ts
 * const { cert, key } = makeCert(tmp);
 * ```
 */
export function makeCert(dir: string): TestCert {
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  const made = spawnSync("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "2",
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
    // A leaf, not a CA: rustls (Deno's fetch) refuses a CA certificate as the server's own.
    "-addext",
    "basicConstraints=critical,CA:FALSE",
    "-addext",
    "extendedKeyUsage=serverAuth",
  ], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`openssl req failed: ${made.stderr ?? made.error}`);
  return {
    cert: readFileSync(certFile, "utf8"),
    key: readFileSync(keyFile, "utf8"),
    certFile,
    keyFile,
  };
}

/** A fetch function. */
export type FetchFn = (url: string, init?: RequestInit) => Promise<Response>;

async function bodyBytes(body: RequestInit["body"]): Promise<Uint8Array | undefined> {
  if (body === undefined || body === null) return undefined;
  return new Uint8Array(await new Response(body).arrayBuffer());
}

function nodeFetch(ca: string): FetchFn {
  return async (url, init = {}) => {
    const body = await bodyBytes(init.body);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => (headers[k] = v));
    if (body) headers["content-length"] = String(body.byteLength);
    return await new Promise<Response>((resolve, reject) => {
      const req = httpsRequest(url, { method: init.method ?? "GET", headers, ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const out = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (v === undefined) continue;
            for (const one of Array.isArray(v) ? v : [v]) out.append(k, one);
          }
          const status = res.statusCode ?? 0;
          const nullBody = status === 204 || status === 304 || init.method === "HEAD";
          resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, headers: out }));
        });
      });
      req.on("error", reject);
      req.end(body);
    });
  };
}

/**
 * A fetch that trusts `ca` (PEM) on the runtime running this code.
 *
 * @example
 * ```ts
 * const res = await trustingFetch(cert)(`${registry.url}/v2/`);
 * ```
 */
export function trustingFetch(ca: string): FetchFn {
  const g = globalThis as unknown as {
    Deno?: { createHttpClient(o: { caCerts: string[] }): unknown };
  };
  switch (detectRuntime()) {
    case "deno": {
      const client = g.Deno!.createHttpClient({ caCerts: [ca] });
      return (url, init) => fetch(url, { ...init, client } as RequestInit);
    }
    case "bun":
      return (url, init) => fetch(url, { ...init, tls: { ca } } as RequestInit);
    default:
      return nodeFetch(ca);
  }
}

/**
 * A handler (for tests/support/http.ts's `client`) that sends each request to `base` with `fetch`.
 *
 * @example
 * ```ts
 * const c = client(remote(registry.url, trustingFetch(cert)));
 * ```
 */
export function remote(base: string, fetchFn: FetchFn): FetchHandler {
  return {
    async fetch(request: Request) {
      const u = new URL(request.url);
      const body = request.body ? new Uint8Array(await request.arrayBuffer()) : undefined;
      return await fetchFn(`${base}${u.pathname}${u.search}`, {
        method: request.method,
        headers: request.headers,
        body,
        redirect: "manual",
      });
    },
  };
}
