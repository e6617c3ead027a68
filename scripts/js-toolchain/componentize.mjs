// Builds a JavaScript detector into a component with StarlingMonkey (componentize-js), calling
// its API directly: the `jco componentize` CLI route fails with StarlingMonkey on these machines.
// StarlingMonkey maps `u64`/`s64` to BigInt, so 64-bit event ids survive exactly (the QuickJS
// backend turns them into doubles and loses the low bits of ids above 2^53).
//
// scripts/build-plugin copies it next to node_modules in the tool cache, where its imports resolve.
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
