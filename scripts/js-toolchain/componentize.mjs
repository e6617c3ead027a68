// Builds a JavaScript detector into a component with StarlingMonkey (componentize-js), calling
// its API directly: the `jco componentize` CLI route fails with StarlingMonkey on these machines.
// StarlingMonkey maps `u64`/`s64` to BigInt, so 64-bit event ids survive exactly (the QuickJS
// backend turns them into doubles and loses the low bits of ids above 2^53).
//
// Run it from a folder whose node_modules holds componentize-js: a detector's own folder after
// `npm install` (`plugin new --lang js` copies it there as build.mjs), or the tool cache, where
// scripts/build-plugin copies it.
// usage: node componentize.mjs SOURCE.js WIT_DIR WORLD OUT.wasm
import { writeFile } from "node:fs/promises";
import { componentize } from "@bytecodealliance/componentize-js";

const [sourcePath, witPath, worldName, out] = process.argv.slice(2);
if (!out) {
  console.error("usage: node componentize.mjs SOURCE.js WIT_DIR WORLD OUT.wasm");
  process.exit(2);
}
// A detector needs no HTTP, clock, randomness or stdio: leave them out so the component
// imports only the contract's log interface and what the engine itself needs.
const { component } = await componentize({
  sourcePath,
  witPath,
  worldName,
  disableFeatures: ["http", "fetch-event", "random", "clocks", "stdio"],
});
await writeFile(out, component);
