/**
 * A small closed-loop HTTP/1.1 load generator for requests wrk and autocannon cannot drive: both
 * wait for a body after a HEAD response that carries `Content-Length` (as a registry's manifest
 * HEAD must), so they stall. Runs in its own process:
 *
 * ```sh
 * tsx bench/load.ts '{"url":"http://127.0.0.1:5000/v2/a/manifests/latest","method":"HEAD",
 *   "connections":32,"seconds":5,"warmupSeconds":1,"headers":{"Accept":"…"}}'
 * ```
 *
 * Each connection keeps one request in flight (no pipelining, like wrk); responses are framed by
 * `Content-Length` (no body for HEAD, 204 and 304); a chunked or close-delimited response is an
 * error. Prints one JSON line: requests, seconds, rps, latency percentiles (ms), non-2xx, errors.
 *
 * @module
 */
import net from "node:net";

/** What to run. */
interface LoadOptions {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  connections?: number;
  seconds?: number;
  warmupSeconds?: number;
}

const HEADER_END = Buffer.from("\r\n\r\n");

function run(options: LoadOptions): Promise<Record<string, number>> {
  const url = new URL(options.url);
  const method = options.method ?? "GET";
  const head = method === "HEAD";
  const lines = [`${method} ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`];
  for (const [k, v] of Object.entries(options.headers ?? {})) lines.push(`${k}: ${v}`);
  const requestBytes = Buffer.from(lines.join("\r\n") + "\r\n\r\n");
  const connections = options.connections ?? 32;
  const warmupMs = (options.warmupSeconds ?? 1) * 1000;
  const measureMs = (options.seconds ?? 5) * 1000;

  const latencies: number[] = [];
  let measuring = false;
  let stopped = false;
  let nonOk = 0;
  let errors = 0;
  let measureStart = 0;

  return new Promise((resolve) => {
    const sockets: net.Socket[] = [];
    const open = (): void => {
      const socket = net.connect({
        host: url.hostname,
        port: Number(url.port || 80),
        noDelay: true,
      });
      sockets.push(socket);
      let buffered: Buffer | undefined;
      let sentAt = 0;
      let bodyLeft = -1; // -1: reading headers
      const send = (): void => {
        if (stopped) return;
        sentAt = performance.now();
        socket.write(requestBytes);
      };
      const done = (): void => {
        if (measuring) latencies.push(performance.now() - sentAt);
        send();
      };
      socket.on("connect", send);
      socket.on("data", (chunk: Buffer) => {
        let data = buffered ? Buffer.concat([buffered, chunk]) : chunk;
        buffered = undefined;
        while (data.length > 0) {
          if (bodyLeft >= 0) {
            const n = Math.min(bodyLeft, data.length);
            bodyLeft -= n;
            data = data.subarray(n);
            if (bodyLeft === 0) {
              bodyLeft = -1;
              done();
            }
            continue;
          }
          const end = data.indexOf(HEADER_END);
          if (end < 0) {
            buffered = data;
            return;
          }
          const text = data.toString("latin1", 0, end);
          data = data.subarray(end + 4);
          const status = Number(text.slice(9, 12));
          if (measuring && (status < 200 || status > 299)) nonOk++;
          const m = /\r\ncontent-length:\s*(\d+)/i.exec(text);
          if (head || status === 204 || status === 304 || (m && m[1] === "0")) {
            done();
          } else if (m) {
            bodyLeft = Number(m[1]);
          } else {
            errors++;
            socket.destroy();
            return;
          }
        }
      });
      socket.on("error", () => void errors++);
      socket.on("close", () => {
        if (!stopped) {
          sockets.splice(sockets.indexOf(socket), 1);
          open();
        }
      });
    };
    for (let i = 0; i < connections; i++) open();
    setTimeout(() => {
      measuring = true;
      errors = 0;
      measureStart = performance.now();
      setTimeout(() => {
        measuring = false;
        stopped = true;
        const seconds = (performance.now() - measureStart) / 1000;
        for (const s of sockets) s.destroy();
        latencies.sort((a, b) => a - b);
        const q = (p: number) =>
          latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)] ?? NaN;
        resolve({
          requests: latencies.length,
          seconds,
          rps: latencies.length / seconds,
          p50Ms: q(0.5),
          p90Ms: q(0.9),
          p99Ms: q(0.99),
          nonOk,
          errors,
        });
      }, measureMs);
    }, warmupMs);
  });
}

const result = await run(JSON.parse(process.argv[2] ?? "{}") as LoadOptions);
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(0);
