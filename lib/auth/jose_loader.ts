/**
 * jose, loaded once on first use: importing the registry does not load it, and a dynamic
 * `import()` per call is not free (about 0.5 ms each under tsx's loader, measured).
 *
 * @module
 */

let jose: Promise<typeof import("jose")> | undefined;

/**
 * The jose module.
 *
 * @example
 * ```ts
 * const { jwtVerify } = await loadJose();
 * ```
 */
export function loadJose(): Promise<typeof import("jose")> {
  jose ??= import("jose");
  return jose;
}
