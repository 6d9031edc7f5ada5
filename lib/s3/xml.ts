/**
 * The little XML the S3 API needs: reading flat elements out of the responses it sends (list
 * results, multipart results, errors) and escaping text for the requests it takes.
 *
 * @module
 */

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

/**
 * Decode XML character and entity references.
 *
 * @example
 * ```ts
 * xmlUnescape("&quot;a&amp;b&quot;"); // '"a&b"'
 * ```
 */
export function xmlUnescape(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref[0] === "#") {
      const code = ref[1] === "x" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return String.fromCodePoint(code);
    }
    return ENTITIES[ref] ?? whole;
  });
}

/**
 * Escape text for an XML element.
 *
 * @example
 * ```ts
 * xmlEscape('a<b & "c"'); // "a&lt;b &amp; &quot;c&quot;"
 * ```
 */
export function xmlEscape(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => `&${Object.keys(ENTITIES).find((k) => ENTITIES[k] === c)};`,
  );
}

/**
 * The raw inner text of every `<tag>...</tag>` in `xml`, in document order (not unescaped: use
 * {@link xmlText} for leaf values). Elements of that name must not nest, which holds for every
 * element the S3 responses are read for.
 *
 * @example
 * ```ts
 * xmlBlocks("<a><b>1</b><b>2</b></a>", "b"); // ["1", "2"]
 * ```
 */
export function xmlBlocks(xml: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}(?:\\s[^>]*)?(?:/>|>([\\s\\S]*?)</${tag}>)`, "g");
  for (const m of xml.matchAll(re)) out.push(m[1] ?? "");
  return out;
}

/**
 * The unescaped text of the first `<tag>` in `xml`, or `undefined`.
 *
 * @example
 * ```ts
 * xmlText("<r><Code>NoSuchKey</Code></r>", "Code"); // "NoSuchKey"
 * ```
 */
export function xmlText(xml: string, tag: string): string | undefined {
  const block = xmlBlocks(xml, tag)[0];
  return block === undefined ? undefined : xmlUnescape(block);
}
