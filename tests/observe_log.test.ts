import { suite } from "uvu";
import assert from "node:assert/strict";
import { createJsonLogFormatter } from "../lib/observe/json_log.ts";
import { redactedTarget } from "../lib/observe/redact.ts";
import { requestId } from "../lib/observe/request_id.ts";

const log = suite("structured access log");

log("one JSON object per request with every field", () => {
  const format = createJsonLogFormatter();
  const request = new Request("http://registry.test/v2/team%2Fapp/manifests/v1", {
    headers: { "User-Agent": "containerd/2.0", "X-Request-Id": "rid-7" },
  });
  const line = format({
    request,
    status: 200,
    bytesIn: 0,
    bytesOut: 1234,
    durationMs: 3.14159,
    remoteAddr: "10.1.2.3:4567",
    identity: "alice",
    time: new Date(0),
  });
  assert.ok(!line.includes("\n"));
  assert.deepEqual(JSON.parse(line), {
    time: "1970-01-01T00:00:00.000Z",
    request_id: "rid-7",
    method: "GET",
    route: "manifest",
    repository: "team/app",
    path: "/v2/team%2Fapp/manifests/v1",
    status: 200,
    bytes_in: 0,
    bytes_out: 1234,
    duration_ms: 3.1,
    user_agent: "containerd/2.0",
    remote_addr: "10.1.2.3:4567",
    identity: "alice",
  });
});

log("the request id matches the one sent back; unknown paths and the operations routes", () => {
  const format = createJsonLogFormatter({ basePath: "/reg/" });
  const request = new Request("http://x/reg/v2/a/blobs/uploads/", { method: "POST" });
  const record = JSON.parse(
    format({ request, status: 202, bytesIn: 5, bytesOut: 0, durationMs: 1 }),
  );
  assert.equal(record.request_id, requestId(request));
  assert.equal(record.route, "uploads");
  assert.equal(record.repository, "a");
  assert.equal(record.user_agent, undefined);
  const r2 = JSON.parse(format({
    request: new Request("http://x/reg/healthz"),
    status: 200,
    bytesIn: 0,
    bytesOut: 15,
    durationMs: 0.04,
    aborted: true,
  }));
  assert.equal(r2.route, "healthz");
  assert.equal(r2.repository, undefined);
  assert.equal(r2.aborted, true);
  const r3 = JSON.parse(format({
    request: new Request("http://x/elsewhere"),
    status: 404,
    bytesIn: 0,
    bytesOut: 0,
    durationMs: 0,
  }));
  assert.equal(r3.route, "unmatched");
});

log("credentials never reach the log: headers, signatures, tokens", () => {
  const format = createJsonLogFormatter();
  const request = new Request(
    "http://x/v2/a/blobs/uploads/abc?digest=sha256:00&X-Amz-Signature=deadbeef" +
      "&X-Amz-Credential=AKIA%2F2026&X-Amz-Security-Token=tok&access_token=secret1&_state=s2",
    {
      method: "PUT",
      headers: { Authorization: "Bearer eyJhbGciOi.secret3", Cookie: "session=secret4" },
    },
  );
  const line = format({ request, status: 201, bytesIn: 9, bytesOut: 0, durationMs: 2 });
  for (
    const secret of ["deadbeef", "AKIA", "tok&", "secret1", "s2", "secret3", "secret4", "Bearer"]
  ) {
    assert.ok(!line.includes(secret), `${secret} not logged`);
  }
  const record = JSON.parse(line);
  assert.equal(
    record.path,
    "/v2/a/blobs/uploads/abc?digest=sha256%3A00&X-Amz-Signature=REDACTED" +
      "&X-Amz-Credential=REDACTED&X-Amz-Security-Token=REDACTED&access_token=REDACTED" +
      "&_state=REDACTED",
  );
});

log("hostile input stays one line of valid JSON", () => {
  const format = createJsonLogFormatter();
  const request = new Request("http://x/v2/a%0A%22b/tags/list?n=1%0Ax", {
    headers: { "User-Agent": 'evil"\\ agent' },
  });
  const line = format({ request, status: 400, bytesIn: 0, bytesOut: 10, durationMs: 1 });
  assert.ok(!line.includes("\n"));
  const record = JSON.parse(line);
  assert.equal(record.repository, 'a\n"b');
  assert.equal(record.user_agent, 'evil"\\ agent');
  assert.equal(redactedTarget(new URL("http://x/v2/?last=a b")), "/v2/?last=a%20b");
});

log.run();
