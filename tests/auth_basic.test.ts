/**
 * Basic mode through `registry.fetch` (no sockets): every route × method × {anonymous, wrong
 * password, allowed user, user without permission, admin}; refusals never reach storage and
 * look the same whether the repository exists or not; path tricks; the mount rule; the catalog.
 */
import { suite } from "uvu";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { basicAuth } from "../lib/auth/basic_mode.ts";
import { createRegistry, type Registry } from "../lib/registry.ts";
import {
  basicHeader,
  POLICY,
  repoCalls,
  request,
  ROUTES,
  seedWorld,
  USERS,
  type World,
} from "./support/auth.ts";

const REPO = "team/app";

async function setup(basePath?: string): Promise<{ world: World; registry: Registry }> {
  const world = await seedWorld();
  const registry = createRegistry({
    storage: world.storage,
    basePath,
    auth: basicAuth({ users: USERS, policy: POLICY }),
  });
  return { world, registry };
}

async function errorCode(res: Response): Promise<string | undefined> {
  if (res.headers.get("Content-Type") !== "application/json") return undefined;
  const body = await res.json() as { errors?: { code: string }[] };
  return body.errors?.[0]?.code;
}

const table = suite("auth Basic: route × method × caller");

table(
  "anonymous and wrong passwords: 401 UNAUTHORIZED with the challenge, storage untouched",
  async () => {
    const { world, registry } = await setup();
    for (const route of ROUTES) {
      for (
        const auth of [{}, basicHeader("alice", "wrong"), basicHeader("nobody", "x"), {
          Authorization: "Basic !!",
        }, { Authorization: "Bearer abc" }]
      ) {
        const mark = world.calls.length;
        const res = await registry.fetch(request(route, REPO, world, auth));
        assert.equal(res.status, 401, `${route.label} ${JSON.stringify(auth)}`);
        assert.equal(
          res.headers.get("WWW-Authenticate"),
          'Basic realm="fetch-registry", charset="UTF-8"',
        );
        if (route.method !== "HEAD") assert.equal(await errorCode(res), "UNAUTHORIZED");
        else await res.body?.cancel();
        assert.deepEqual(repoCalls(world, mark), [], route.label);
      }
    }
  },
);

table(
  "a user without the permission: 403 DENIED, storage untouched; with it: the route answers",
  async () => {
    const { world, registry } = await setup();
    for (const route of ROUTES) {
      // bob may only pull team/**; carol may do nothing there.
      const refused = route.action === "pull" ? ["carol"] : ["carol", "bob"];
      for (const user of refused) {
        const mark = world.calls.length;
        const res = await registry.fetch(
          request(route, REPO, world, basicHeader(user, USERS[user as keyof typeof USERS])),
        );
        assert.equal(res.status, 403, `${route.label} as ${user}`);
        assert.equal(res.headers.get("WWW-Authenticate"), null);
        if (route.method !== "HEAD") assert.equal(await errorCode(res), "DENIED");
        assert.deepEqual(repoCalls(world, mark), [], `${route.label} as ${user}`);
      }
    }
    for (const user of ["alice", "root", "bob"]) {
      // A fresh world per user: the allowed writes end sessions and add tags.
      const { world, registry } = await setup();
      for (const route of ROUTES) {
        if (user === "bob" && route.action !== "pull") continue;
        const res = await registry.fetch(
          request(route, REPO, world, basicHeader(user, USERS[user as keyof typeof USERS])),
        );
        await res.body?.cancel();
        if (route.allowed !== undefined) {
          assert.equal(
            res.status,
            route.allowed,
            `${route.label} as ${user}`,
          );
        } else {assert.ok(
            res.status !== 401 && res.status !== 403,
            `${route.label} as ${user}: ${res.status}`,
          );}
      }
    }
  },
);

table("anonymous pull where the policy allows it, nothing more", async () => {
  const { world, registry } = await setup();
  for (const route of ROUTES) {
    const res = await registry.fetch(request(route, "public/p", world));
    await res.body?.cancel();
    if (route.action === "pull") assert.equal(res.status, route.allowed, route.label);
    else assert.equal(res.status, 401, route.label);
  }
});

table("refusals look the same for a repository that does not exist", async () => {
  const { world, registry } = await setup();
  world.images["team/ghost"] = world.images[REPO];
  world.uploads["team/ghost"] = world.uploads[REPO];
  for (const route of ROUTES) {
    for (const auth of [{}, basicHeader("carol", USERS.carol)]) {
      const a = await registry.fetch(request(route, REPO, world, auth));
      const b = await registry.fetch(request(route, "team/ghost", world, auth));
      assert.equal(a.status, b.status, route.label);
      assert.deepEqual([...a.headers], [...b.headers], route.label);
      assert.equal(await a.text(), await b.text(), route.label);
    }
  }
});

table("GET /v2/ answers 401 with the challenge unless the credentials are valid", async () => {
  const { registry } = await setup();
  const base = (auth: Record<string, string> = {}) =>
    registry.fetch(new Request("http://r/v2/", { headers: auth }));
  let res = await base();
  assert.equal(res.status, 401);
  assert.match(res.headers.get("WWW-Authenticate") ?? "", /^Basic realm=/);
  assert.equal((await base(basicHeader("alice", "nope"))).status, 401);
  res = await base(basicHeader("carol", USERS.carol));
  assert.equal(res.status, 200, "a valid user with no permissions still logs in");
  assert.equal(res.headers.get("Docker-Distribution-API-Version"), "registry/2.0");
});

table("credentials never appear in error bodies", async () => {
  const { world, registry } = await setup();
  for (const auth of [basicHeader("alice", "s3cr3t-guess"), basicHeader("carol", USERS.carol)]) {
    const text = await (await registry.fetch(request(ROUTES[0], REPO, world, auth))).text();
    assert.ok(
      !text.includes("s3cr3t") && !text.includes(USERS.carol) &&
        !text.includes(auth.Authorization.slice(6)),
    );
  }
});

const tricks = suite("auth Basic: names as routing sees them");

tricks(
  "%2F, .., //, case, trailing slash and basePath never reach another repository",
  async () => {
    for (const basePath of ["", "/mount"]) {
      const { world, registry } = await setup(basePath);
      const digest = world.images["alice/x"].layers[0].digest;
      const paths = [
        `/v2/alice%2Fx/manifests/latest`,
        `/v2/alice%2fx/blobs/${digest}`,
        `/v2/bob/y/..%2F..%2Falice/x/manifests/latest`,
        `/v2/bob/y/../../alice/x/manifests/latest`,
        `/v2/bob/y/%2E%2E/%2E%2E/alice/x/manifests/latest`,
        `/v2/bob//alice/x/manifests/latest`,
        `/v2/Alice/x/manifests/latest`,
        `/v2/ALICE%2FX/manifests/latest`,
        `/v2/alice/x/manifests/latest/`,
        `/v2/alice/x/`,
        `/v2/bob%2F..%2Falice/x/tags/list`,
        `/v2/alice/x%00/tags/list`,
      ];
      for (const path of paths) {
        for (const prefix of [basePath, basePath === "" ? "/mount" : ""]) {
          const mark = world.calls.length;
          const res = await registry.fetch(
            new Request(`http://r${prefix}${path}`, { headers: basicHeader("bob", USERS.bob) }),
          );
          await res.body?.cancel();
          assert.ok([400, 401, 403, 404].includes(res.status), `${prefix}${path}: ${res.status}`);
          const touched = repoCalls(world, mark).filter(([, repo]) => !repo.startsWith("bob/"));
          assert.deepEqual(touched, [], `${prefix}${path}`);
        }
      }
      // The decoded name is the one checked: alice reaches alice/x through %2F, as routing does.
      const res = await registry.fetch(
        new Request(`http://r${basePath}/v2/alice%2Fx/manifests/latest`, {
          headers: basicHeader("alice", USERS.alice),
        }),
      );
      assert.equal(res.status, 200);
    }
  },
);

const mount = suite("auth Basic: cross-repository mount");

mount("needs pull on the source; without it an ordinary 202 that reveals nothing", async () => {
  const { world, registry } = await setup();
  const digest = world.images["alice/x"].layers[0].digest;
  const missing = `sha256:${"9".repeat(64)}`;
  const post = (who: string, from: string, d: string) =>
    registry.fetch(
      new Request(`http://r/v2/bob/y/blobs/uploads/?mount=${d}&from=${from}`, {
        method: "POST",
        headers: basicHeader(who, USERS[who as keyof typeof USERS]),
      }),
    );
  const mark = world.calls.length;
  const existing = await post("bob", "alice/x", digest);
  const absent = await post("bob", "alice/x", missing);
  assert.equal(existing.status, 202);
  assert.equal(absent.status, 202);
  assert.deepEqual([...existing.headers.keys()], [...absent.headers.keys()]);
  assert.deepEqual(
    repoCalls(world, mark).filter(([, r]) => r.startsWith("alice/")),
    [],
    "never looks at alice/x",
  );
  // root may pull alice/x: the mount happens.
  const admin = await registry.fetch(
    new Request(`http://r/v2/bob/y/blobs/uploads/?mount=${digest}&from=alice/x`, {
      method: "POST",
      headers: basicHeader("root", USERS.root),
    }),
  );
  assert.equal(admin.status, 201);
  assert.equal(admin.headers.get("Docker-Content-Digest"), digest);
});

const catalog = suite("auth Basic: catalog");

catalog("lists only what the caller may pull, paged", async () => {
  const { registry } = await setup();
  const list = async (user?: string, query = "") => {
    const res = await registry.fetch(
      new Request(`http://r/v2/_catalog${query}`, {
        headers: user ? basicHeader(user, USERS[user as keyof typeof USERS]) : {},
      }),
    );
    return {
      status: res.status,
      link: res.headers.get("Link"),
      body: res.status === 200 ? await res.json() : await res.text(),
    };
  };
  assert.equal((await list()).status, 401);
  assert.deepEqual((await list("root")).body, {
    repositories: ["alice/x", "bob/y", "public/p", "team/app"],
  });
  assert.deepEqual((await list("alice")).body, {
    repositories: ["alice/x", "public/p", "team/app"],
  });
  assert.deepEqual((await list("bob")).body, { repositories: ["bob/y", "public/p", "team/app"] });
  assert.deepEqual((await list("carol")).body, { repositories: ["public/p"] });
  const page1 = await list("alice", "?n=2");
  assert.deepEqual(page1.body, { repositories: ["alice/x", "public/p"] });
  assert.match(page1.link ?? "", /last=public%2Fp/);
  const page2 = await list("alice", "?n=2&last=public%2Fp");
  assert.deepEqual(page2.body, { repositories: ["team/app"] });
  assert.equal(page2.link, null);
});

const htpasswd = suite("auth Basic: htpasswd file");

htpasswd(
  "a line made by htpasswd -B logs in; the wrong password after the right one is refused",
  async () => {
    const line = execFileSync("htpasswd", ["-nbB", "-C", "10", "dave", "dave-pw"], {
      encoding: "utf8",
    });
    const registry = createRegistry({ auth: basicAuth({ htpasswd: line }) });
    const base = (password: string) =>
      registry.fetch(new Request("http://r/v2/", { headers: basicHeader("dave", password) }));
    assert.equal((await base("dave-pw")).status, 200);
    assert.equal((await base("dave-pw")).status, 200);
    assert.equal((await base("dave-pw ")).status, 401);
    assert.equal((await base("")).status, 401);
    assert.equal((await base("dave-pw")).status, 200);
    const res = await registry.fetch(
      new Request("http://r/v2/x/manifests/latest", {
        method: "PUT",
        headers: basicHeader("dave", "dave-pw"),
      }),
    );
    assert.equal(
      res.status,
      400,
      "without a policy, an authenticated user may push (the manifest is invalid)",
    );
    assert.equal(
      (await registry.fetch(new Request("http://r/v2/x/manifests/latest"))).status,
      401,
      "anonymous: nothing",
    );
  },
);

for (const s of [table, tricks, mount, catalog, htpasswd]) s.run();
