/**
 * Apache htpasswd files, bcrypt entries only (`htpasswd -B`): `user:$2y$10$...`, one a line.
 * Blank lines and `#` comments are skipped. Any other hash (MD5 `$apr1$`, SHA `{SHA}`, crypt,
 * plain text) is an error naming the line: a silent lockout would be worse.
 *
 * @module
 */

/** One user of an htpasswd file. */
export interface HtpasswdEntry {
  /** User name. */
  user: string;
  /** Its bcrypt hash (`$2y$`, `$2a$` or `$2b$`). */
  hash: string;
}

/** An htpasswd file that cannot be used; the message names the line. */
export class HtpasswdError extends Error {
  /** @param message What is wrong, and on which line. */
  constructor(message: string) {
    super(message);
    this.name = "HtpasswdError";
  }
}

const BCRYPT = /^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$/;

/**
 * Parse an htpasswd file's text. Throws {@link HtpasswdError} naming the first bad line.
 *
 * @example
 * ```ts
 * parseHtpasswd("alice:$2y$10$BkE.TVg9791KjiXcS.UWKO9dW9ol9Yal0kDI/F/sepwCaUx.Uy4KG\n");
 * // [{ user: "alice", hash: "$2y$10$BkE..." }]
 * ```
 */
export function parseHtpasswd(text: string): HtpasswdEntry[] {
  const entries: HtpasswdEntry[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = `htpasswd line ${i + 1}`;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HtpasswdError(`${where}: expected "user:hash"`);
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (!BCRYPT.test(hash)) {
      throw new HtpasswdError(
        `${where} (user "${user}"): not a bcrypt hash; only $2y$, $2a$ and $2b$ are supported ` +
          `(make one with "htpasswd -B")`,
      );
    }
    if (seen.has(user)) throw new HtpasswdError(`${where}: user "${user}" appears twice`);
    seen.add(user);
    entries.push({ user, hash });
  }
  return entries;
}
