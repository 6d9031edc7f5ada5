import { suite } from "uvu";
import assert from "node:assert/strict";
import { parseContentRange, parseRange } from "../lib/range.ts";

const range = suite("range: Range header of blob GETs");

range("the six conformance cases on a 2048-byte blob", () => {
  assert.deepEqual(parseRange("bytes=500-1499", 2048), { start: 500, end: 1499 });
  assert.deepEqual(parseRange("bytes=500-", 2048), { start: 500, end: 2047 });
  assert.deepEqual(parseRange("bytes=-500", 2048), { start: 1548, end: 2047 });
  assert.deepEqual(parseRange("bytes=2000-5000", 2048), { start: 2000, end: 2047 });
  assert.equal(parseRange("bytes=500-0", 2048), "unsatisfiable");
  assert.equal(parseRange("bytes=5000-10000", 2048), "unsatisfiable");
});

range("edges: first and last byte, suffix longer than the blob, start at the size", () => {
  assert.deepEqual(parseRange("bytes=0-0", 2048), { start: 0, end: 0 });
  assert.deepEqual(parseRange("bytes=2047-", 2048), { start: 2047, end: 2047 });
  assert.deepEqual(parseRange("bytes=2047-2047", 2048), { start: 2047, end: 2047 });
  assert.deepEqual(parseRange("bytes=-5000", 2048), { start: 0, end: 2047 });
  assert.deepEqual(parseRange("bytes=0-", 1), { start: 0, end: 0 });
  assert.equal(parseRange("bytes=2048-", 2048), "unsatisfiable");
  assert.equal(parseRange("bytes=2048-3000", 2048), "unsatisfiable");
  assert.equal(parseRange("bytes=-0", 2048), "unsatisfiable");
  assert.equal(parseRange("bytes=99999999999999999999-", 2048), "unsatisfiable");
});

range("the empty blob has no satisfiable range", () => {
  assert.equal(parseRange("bytes=0-", 0), "unsatisfiable");
  assert.equal(parseRange("bytes=0-0", 0), "unsatisfiable");
  assert.equal(parseRange("bytes=-1", 0), "unsatisfiable");
});

range("headers to ignore (send the whole body): other units, several ranges, garbage", () => {
  for (
    const header of [
      "items=0-1",
      "bytes=0-1,5-6",
      "bytes=abc",
      "bytes=-",
      "bytes=",
      "",
      "0-100",
      "bytes 0-1",
    ]
  ) {
    assert.equal(parseRange(header, 2048), undefined, JSON.stringify(header));
  }
});

range.run();

const contentRange = suite("range: Content-Range header of upload PATCHes");

contentRange("the spec's <start>-<end> form, inclusive", () => {
  assert.deepEqual(parseContentRange("0-1023"), { start: 0, end: 1023 });
  assert.deepEqual(parseContentRange("22-41"), { start: 22, end: 41 });
  assert.deepEqual(parseContentRange("0-0"), { start: 0, end: 0 });
});

contentRange("the RFC form bytes <start>-<end>/<total> is understood too", () => {
  assert.deepEqual(parseContentRange("bytes 0-1023/2048"), { start: 0, end: 1023 });
  assert.deepEqual(parseContentRange("bytes 1024-2047/*"), { start: 1024, end: 2047 });
});

contentRange("malformed values are undefined", () => {
  for (const header of ["", "abc", "5-3", "-5", "0-", "1-2-3", "a-b", "bytes */2048", "0 - x"]) {
    assert.equal(parseContentRange(header), undefined, JSON.stringify(header));
  }
});

contentRange.run();
