/**
 * Basic mode: callers send `Authorization: Basic` on every request, checked against htpasswd
 * entries or a user list; a policy or a hook decides. A caller without credentials (or with an
 * empty user and password, as skopeo and podman send them) is anonymous;
 * invalid credentials answer 401, and valid ones without permission 403 DENIED.
 *
 * @module
 */
import { RegistryError } from "../errors.ts";
import {
  type BasicAuthenticator,
  type BasicAuthenticatorOptions,
  createBasicAuthenticator,
  parseBasic,
} from "./basic.ts";
import { basicChallenge } from "./challenge.ts";
import { createGuard, type RegistryAuth } from "./guard.ts";
import { createPermissions, type PermissionOptions } from "./permissions.ts";
import type { Identity } from "./types.ts";

/**
 * `Basic` of an empty user and password (`":"`): what containers/image clients (skopeo, podman,
 * buildah) send after a Basic challenge when they have no credentials. It means anonymous.
 */
const EMPTY_BASIC = /^basic[ ]+Og==[ ]*$/i;

/** Options of {@link basicAuth}. */
export interface BasicAuthOptions extends BasicAuthenticatorOptions, PermissionOptions {
  /** An authenticator to use instead of `htpasswd`/`users`. */
  authenticator?: BasicAuthenticator;
  /** The realm of the challenge. Default `fetch-registry`. */
  realm?: string;
}

/**
 * Access control by Basic credentials.
 *
 * @example
 * ```ts
 * const registry = createRegistry({
 *   auth: basicAuth({ htpasswd: await Deno.readTextFile("htpasswd"), policy: await Deno.readTextFile("access.json") }),
 * });
 * ```
 */
export function basicAuth(options: BasicAuthOptions): RegistryAuth {
  const authenticator = options.authenticator ?? createBasicAuthenticator(options);
  const permissions = createPermissions(options);
  const challenge = { "WWW-Authenticate": basicChallenge(options.realm ?? "fetch-registry") };
  const unauthorized = () => new RegistryError("UNAUTHORIZED", null, { headers: challenge });
  return {
    guard: createGuard({
      async identify(request) {
        const header = request.headers.get("Authorization");
        if (header === null || EMPTY_BASIC.test(header)) return { scheme: "anonymous" };
        const creds = parseBasic(header);
        if (!creds || !(await authenticator.verify(creds.user, creds.password))) {
          throw unauthorized();
        }
        return { scheme: "basic", subject: creds.user };
      },
      may: (identity, repository, actions) => permissions.may(identity, repository, actions),
      async catalog(identity: Identity) {
        if (identity.scheme === "anonymous") throw unauthorized();
        return (name) => permissions.may(identity, name, ["pull"]);
      },
      refuse(identity) {
        return identity.scheme === "anonymous" ? unauthorized() : new RegistryError("DENIED", null);
      },
    }),
  };
}
