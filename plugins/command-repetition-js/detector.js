// command_repetition in JavaScript: the same command line run again and again within minutes.
//
// A line-for-line port of plugins/command-repetition (Rust), so both pass the same conformance
// cases and hand their state to each other: the snapshot is the Rust version's JSON.
//
// Build: jco componentize detector.js --wit ../../wit/since_v0.1.0 --world-name detector-plugin \
//          --backend qjs --backend-qjs-disable-async -o command_repetition_js.wasm
//
// Mapping of the WIT types (jco): records are objects with camelCase fields, `u64`/`s64` are
// BigInt, enums are strings ('failure'), variants are { tag, val }, `option` is a value or
// undefined, and throwing a string returns it as the `result`'s error.

const PATTERN = "command_repetition";
const MAX_EVIDENCE_EVENTS = 20;
const SETTINGS = [
  { name: "min_repeats", defaultValue: { tag: "integer", val: 3n }, description: "Successful runs of one command that make a burst." },
  { name: "window_seconds", defaultValue: { tag: "integer", val: 120n }, description: "How close together the runs of a burst are." },
];

// Rust's `char::is_whitespace` (Unicode White_Space), so both versions split commands alike.
const WHITESPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/** Collapses whitespace so `bd  ready` and `bd ready ` are one command. */
function normalize(command) {
  return command.split(WHITESPACE).filter((part) => part.length > 0).join(" ");
}

function integerAtLeast(values, name, minimum) {
  const value = values.get(name);
  let number;
  if (value.tag === "integer") {
    number = BigInt(value.val);
  } else if (value.tag === "float" && Number.isInteger(value.val)) {
    number = BigInt(value.val);
  } else {
    throw `setting \`${name}\` must be a whole number, not ${value.tag}(${JSON.stringify(value.val)})`;
  }
  if (number < BigInt(minimum)) {
    throw `setting \`${name}\` must be at least ${minimum}, not ${number}`;
  }
  return number;
}

/** Whole seconds, rounded like Rust's `{:.0}`: ties go to the even number. */
function roundHalfEven(milliseconds) {
  const seconds = Math.floor(milliseconds / 1000);
  const rest = milliseconds - seconds * 1000;
  if (rest > 500 || (rest === 500 && seconds % 2 !== 0)) return seconds + 1;
  return seconds;
}

let minRepeats = 3;
let windowMs = 120000n;
// "command\x1fwho" -> { runs: [[timeMs, id], ...] (BigInt), reported, bursts }
let bursts = new Map();

function onEvent(event) {
  if (event.outcome.status === "failure") return undefined;
  const command = normalize(event.subject ?? "");
  if (command === "") return undefined;
  const who = event.threadId ?? event.actor ?? "";
  const key = `${command}\x1f${who}`;
  let burst = bursts.get(key);
  if (burst === undefined) {
    burst = { runs: [], reported: false, bursts: 0 };
    bursts.set(key, burst);
  }
  const runs = burst.runs;
  while (runs.length > 0 && event.timeMs - runs[0][0] > windowMs) runs.shift();
  if (runs.length === 0) burst.reported = false;
  runs.push([event.timeMs, event.id]);
  if (runs.length < minRepeats || burst.reported) return undefined;
  burst.reported = true;
  burst.bursts += 1;

  const count = runs.length;
  const spanMs = Number(event.timeMs - runs[0][0]);
  const confidence = 0.6 + 0.1 * (count - minRepeats) + 0.1 * (burst.bursts - 1);
  const fields = [
    { key: "command", value: { tag: "text", val: command } },
    { key: "runs", value: { tag: "integer", val: BigInt(count) } },
    { key: "span_seconds", value: { tag: "float", val: spanMs / 1000 } },
    { key: "bursts", value: { tag: "integer", val: BigInt(burst.bursts) } },
    { key: "window_seconds", value: { tag: "integer", val: windowMs / 1000n } },
  ];
  if (event.actor !== undefined && event.actor !== null) {
    fields.push({ key: "actor", value: { tag: "text", val: event.actor } });
  }
  const eventIds = [];
  let timeMs = 0n;
  for (const [time, id] of runs) {
    if (eventIds.length < MAX_EVIDENCE_EVENTS && !eventIds.includes(id)) eventIds.push(id);
    if (time > timeMs) timeMs = time;
  }
  return {
    pattern: PATTERN,
    key,
    severity: burst.bursts >= 3 ? "warning" : "info",
    confidence: Math.max(0, Math.min(confidence, 0.95)),
    message: `\`${command}\` was run ${count} times in ${roundHalfEven(spanMs)}s by ${who === "" ? "one user" : who}`,
    recommendation:
      `Make \`${command}\` say clearly whether it worked and what changed (a summary line, ` +
      "a non-zero exit code on failure), so nobody has to run it again to check.",
    evidence: { eventIds, fields },
    affectedThreads: event.threadId === undefined || event.threadId === null ? [] : [event.threadId],
    timeMs,
  };
}

/** The state as the Rust version writes it ({command: {who: burst}}), integers exact. */
function saveState() {
  const byCommand = new Map();
  for (const [key, burst] of bursts) {
    const split = key.indexOf("\x1f");
    const command = key.slice(0, split);
    const runs = burst.runs.map(([time, id]) => `[${time},${id}]`).join(",");
    const entry = `${JSON.stringify(key.slice(split + 1))}:{"runs":[${runs}],"reported":${burst.reported},"bursts":${burst.bursts}}`;
    if (!byCommand.has(command)) byCommand.set(command, []);
    byCommand.get(command).push(entry);
  }
  const commands = [...byCommand].map(([command, people]) => `${JSON.stringify(command)}:{${people.join(",")}}`);
  return `{${commands.join(",")}}`;
}

/** Reads the state; numbers are quoted before parsing so 64-bit ids survive exactly. */
function loadState(text) {
  const quoted = text.replace(/"(?:[^"\\]|\\.)*"|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g, (match, number) =>
    number === undefined ? match : `"${number}"`,
  );
  const restored = new Map();
  for (const [command, people] of Object.entries(JSON.parse(quoted))) {
    for (const [who, burst] of Object.entries(people)) {
      restored.set(`${command}\x1f${who}`, {
        runs: burst.runs.map(([time, id]) => [BigInt(time), BigInt(id)]),
        reported: burst.reported === true,
        bursts: Number(burst.bursts),
      });
    }
  }
  return restored;
}

export const detector = {
  describe() {
    return {
      id: "command-repetition",
      version: "0.1.0",
      apiVersion: "0.1.0",
      patterns: [PATTERN],
      kinds: ["cli.command"],
      config: SETTINGS,
      language: "js",
    };
  },

  configure(settings) {
    const values = new Map(SETTINGS.map((key) => [key.name, key.defaultValue]));
    for (const field of settings) {
      if (!values.has(field.key)) {
        const known = SETTINGS.map((key) => key.name).join(", ");
        throw `unknown setting \`${field.key}\`; this detector accepts: ${known}`;
      }
      values.set(field.key, field.value);
    }
    minRepeats = Number(integerAtLeast(values, "min_repeats", 2));
    windowMs = integerAtLeast(values, "window_seconds", 1) * 1000n;
  },

  process(events) {
    const insights = [];
    for (const event of events) {
      const insight = onEvent(event);
      if (insight !== undefined) insights.push(insight);
    }
    return insights;
  },

  tick(_nowMs) {
    return [];
  },

  snapshot() {
    return new TextEncoder().encode(saveState());
  },

  restore(state) {
    try {
      bursts = loadState(new TextDecoder().decode(state));
    } catch (error) {
      throw `cannot read the saved state: ${error}`;
    }
  },
};
