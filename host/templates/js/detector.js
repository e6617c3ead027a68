// {{id}}: a devloop-host detector in JavaScript.
//
// It reports a command that keeps failing: `min_failures` failed runs of the same command line.
// Replace the logic in `process` with the pattern you are after. The types are those of
// wit/detector.wit: records are objects with camelCase fields, `u64`/`s64` are BigInt, enums are
// strings ("failure"), variants are { tag, val }, `option` is a value or undefined, and throwing
// a string returns it as the `result`'s error.
//
// Build: npm install && npm run build   (writes {{id}}.wasm)

const PATTERN = "{{pattern}}";
const SETTINGS = [
  { name: "min_failures", defaultValue: { tag: "integer", val: 2n }, description: "Failed runs of one command that make a finding." },
];

let minFailures = 2;
let failures = new Map(); // command -> ids (BigInt) of its failed runs

export const detector = {
  describe() {
    return {
      id: "{{id}}",
      version: "0.1.0",
      apiVersion: "0.1.0",
      patterns: [PATTERN],
      kinds: ["cli.command"],
      config: SETTINGS,
      language: "js",
    };
  },

  configure(settings) {
    for (const field of settings) {
      if (field.key !== "min_failures") throw `unknown setting \`${field.key}\`; this detector accepts: min_failures`;
      if (field.value.tag !== "integer" || field.value.val < 1n) throw "setting `min_failures` must be a whole number of at least 1";
      minFailures = Number(field.value.val);
    }
  },

  process(events) {
    const insights = [];
    for (const event of events) {
      if (event.outcome.status !== "failure" || !event.subject) continue;
      const ids = failures.get(event.subject) ?? [];
      failures.set(event.subject, ids);
      ids.push(event.id);
      if (ids.length !== minFailures) continue;
      insights.push({
        pattern: PATTERN,
        key: event.subject,
        severity: "warning",
        confidence: 0.7,
        message: `\`${event.subject}\` failed ${ids.length} times`,
        recommendation: `Find out why \`${event.subject}\` fails and make its error say what to do next.`,
        evidence: { eventIds: [...ids], fields: [{ key: "command", value: { tag: "text", val: event.subject } }] },
        affectedThreads: event.threadId ? [event.threadId] : [],
        timeMs: event.timeMs,
      });
    }
    return insights;
  },

  tick(_nowMs) {
    return [];
  },

  snapshot() {
    const saved = Object.fromEntries([...failures].map(([command, ids]) => [command, ids.map(String)]));
    return new TextEncoder().encode(JSON.stringify(saved));
  },

  restore(state) {
    try {
      const saved = JSON.parse(new TextDecoder().decode(state));
      failures = new Map(Object.entries(saved).map(([command, ids]) => [command, ids.map((id) => BigInt(id))]));
    } catch (error) {
      throw `cannot read the saved state: ${error}`;
    }
  },
};
