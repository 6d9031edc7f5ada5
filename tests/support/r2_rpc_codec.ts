/**
 * The wire format between the host-side storage proxy (r2_remote.ts) and the test Worker
 * (r2_rpc_worker.ts): JSON in which byte arrays travel as `{"$bytes": base64}` and `undefined`
 * as `{"$undefined": true}`.
 *
 * @module
 */

/** Encode `value` as JSON text. */
export function encode(value: unknown): string {
  const wrap = (v: unknown): unknown => {
    if (v === undefined) return { $undefined: true };
    if (v instanceof Uint8Array) {
      let text = "";
      for (let i = 0; i < v.byteLength; i += 0x8000) {
        text += String.fromCharCode(...v.subarray(i, i + 0x8000));
      }
      return { $bytes: btoa(text) };
    }
    if (Array.isArray(v)) return v.map(wrap);
    if (v && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = wrap(x);
      return out;
    }
    return v;
  };
  return JSON.stringify(wrap(value));
}

/** Decode JSON text made by {@link encode}. */
export function decode(text: string): unknown {
  const unwrap = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(unwrap);
    if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if (o.$undefined === true) return undefined;
      if (typeof o.$bytes === "string") {
        const raw = atob(o.$bytes);
        const bytes = new Uint8Array(raw.length);
        for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
        return bytes;
      }
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(o)) out[k] = unwrap(x);
      return out;
    }
    return v;
  };
  return unwrap(JSON.parse(text));
}
