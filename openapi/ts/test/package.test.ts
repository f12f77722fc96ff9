// The package as npm packs it: what an application installs from `npm pack`.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

// This file runs as build/test/package.test.js inside openapi/ts.
const root = fileURLToPath(new URL("../../", import.meta.url));

interface Packed {
  files: { path: string }[];
}

test("npm pack ships the built JavaScript and types, and every path the exports name", () => {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, encoding: "utf8" });
  const [packed] = JSON.parse(out) as Packed[];
  const files = new Set(packed!.files.map((f) => f.path));
  for (const f of ["package.json", "README.md", "dist/index.js", "dist/index.d.ts", "dist/schema.d.ts", "dist/client.js", "dist/events.js"]) {
    assert.ok(files.has(f), `${f} is not packed: ${[...files].join(", ")}`);
  }
  for (const f of files) {
    assert.ok(f === "package.json" || f === "README.md" || f.startsWith("dist/"), `${f} should not be packed`);
  }

  const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
    exports: Record<string, string | Record<string, string>>;
    main: string;
    types: string;
  };
  const targets = [pkg.main, pkg.types];
  for (const target of Object.values(pkg.exports)) targets.push(...(typeof target === "string" ? [target] : Object.values(target)));
  for (const target of targets) {
    assert.ok(files.has(path.posix.normalize(target)), `exports names ${target}, which is not packed`);
  }

  // Every relative import of the packed declarations resolves inside the package.
  for (const f of files) {
    if (!f.endsWith(".d.ts")) continue;
    const text = readFileSync(path.join(root, f), "utf8");
    for (const [, spec] of text.matchAll(/from "(\.[^"]+)"/g)) {
      const resolved = path.posix.join(path.posix.dirname(f), spec!.replace(/\.js$/, ".d.ts"));
      assert.ok(files.has(resolved), `${f} imports ${spec}, but ${resolved} is not packed`);
    }
  }
});

test("the README's widget is test/widget.ts, which the type test compiles", () => {
  const readme = readFileSync(path.join(root, "README.md"), "utf8");
  const widget = readFileSync(path.join(root, "test", "widget.ts"), "utf8");
  assert.ok(readme.includes("```ts\n" + widget + "```\n"), "README widget and test/widget.ts differ");
});

test("the package loads by its name as plain JavaScript", async () => {
  const mod = (await import("@skygate/client")) as Record<string, unknown>;
  assert.equal(typeof mod["createSkygateClient"], "function");
  assert.equal(typeof mod["streamEvents"], "function");
  assert.equal(typeof mod["SkygateError"], "function");
  assert.equal(typeof mod["StreamClosedError"], "function");
  const client = (mod["createSkygateClient"] as (o: { baseUrl: string }) => Record<string, unknown>)({ baseUrl: "http://127.0.0.1:1" });
  for (const method of ["GET", "POST", "use", "eject"]) assert.equal(typeof client[method], "function", method);
});
