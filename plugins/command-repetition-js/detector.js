// command_repetition in JavaScript: one command run unusually often by one person, unexplained.
//
// A line-for-line port of plugins/command-repetition (Rust), so both pass the same conformance
// cases and hand their state to each other: the snapshot is the Rust version's JSON (format 1).
//
// Build: jco componentize detector.js --wit ../../wit/since_v0.1.0 --world-name detector-plugin \
//          --backend qjs --backend-qjs-disable-async -o command_repetition_js.wasm
//
// Mapping of the WIT types (jco): records are objects with camelCase fields, `u64`/`s64` are
// BigInt, enums are strings ('failure'), variants are { tag, val }, `option` is a value or
// undefined, and throwing a string returns it as the `result`'s error.

const PATTERN = "command_repetition";
const MAX_EVIDENCE_EVENTS = 20;
/** How much an occasion must grow before its finding is updated (half again). */
const GROWTH = 1.5;
const SETTINGS = [
  {
    name: "min_repeats",
    defaultValue: { tag: "integer", val: 4n },
    description:
      "Unexplained successful runs of one command that can make a finding. Default 4: doubles and " +
      "triples are everyday habit (`git status`), a fourth run with nothing changed is not.",
  },
  {
    name: "burst_seconds",
    defaultValue: { tag: "integer", val: 120n },
    description:
      "A burst: `min_repeats` runs this close together are reported whatever the person's habits. " +
      "Default 120: nobody's routine runs one command four times in two minutes.",
  },
  {
    name: "window_seconds",
    defaultValue: { tag: "integer", val: 7200n },
    description:
      "The longer view: `min_repeats` or more runs within it are judged against the person's own usual " +
      'rate of that command. Default 7200 (2 h): "`bd ready` 4 times in 2 hours".',
  },
  {
    name: "min_history_runs",
    defaultValue: { tag: "integer", val: 30n },
    description:
      "Commands the person ran before the window, before their usual mix is trusted. Default 30: " +
      "a day or two of work shows a person's habits; before that only bursts are reported.",
  },
  {
    name: "max_chance",
    defaultValue: { tag: "float", val: 0.01 },
    description:
      "How improbable the count must be at the person's usual rate (one-sided Poisson) to be " +
      "reported. Default 0.01: one false alarm in a hundred windows at most, per command.",
  },
];
const KINDS = ["cli.command", "file.*", "audit.file_modified", "audit.file_created", "audit.fix_applied"];
const FILE_CHANGES = new Set(["audit.file_modified", "audit.file_created", "audit.fix_applied"]);

/** The snapshot layout this port writes and reads, the Rust version's. */
const STATE_FORMAT = 1;

// Rust's `char::is_whitespace` (Unicode White_Space), so both versions split commands alike.
const WHITESPACE_CLASS = "[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]";
const WHITESPACE = new RegExp(`${WHITESPACE_CLASS}+`);
const EDGES = new RegExp(`^${WHITESPACE_CLASS}+|${WHITESPACE_CLASS}+$`, "g");

/** Collapses whitespace so `bd  ready` and `bd ready ` are one command; case stays. */
function commandKey(command) {
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

function numberSetting(values, name) {
  const value = values.get(name);
  if (value.tag === "integer" || value.tag === "float") return Number(value.val);
  throw `setting \`${name}\` must be a number, not ${value.tag}(${JSON.stringify(value.val)})`;
}

/** `x` with `digits` (0 or 1) decimals as Rust's `{:.N}` writes it: exact ties go to even. */
function fixed(x, digits) {
  const tie = digits === 0 ? Number.isInteger(x * 2) && !Number.isInteger(x) : Number.isInteger(x * 4) && !Number.isInteger(x * 2);
  if (!tie) return x.toFixed(digits);
  const scaled = digits === 0 ? x : x * 10;
  const down = Math.floor(scaled);
  const even = down % 2 === 0 ? down : down + 1;
  return digits === 0 ? `${even}` : (even / 10).toFixed(1);
}

/** Rust's `f64::round` for the non-negative values used here: halves away from zero. */
function rustRound(x) {
  return Math.floor(x + 0.5);
}

/** P(X >= n) for X ~ Poisson(mean), summed in the Rust version's order. */
function poissonTail(n, mean) {
  if (n === 0) return 1;
  let term = Math.exp(-mean);
  let below = term;
  for (let k = 1; k < n; k++) {
    term *= mean / k;
    below += term;
  }
  return Math.max(1 - below, 0);
}

/** Seconds under two minutes, minutes under two hours, hours beyond. */
function spanWords(ms) {
  const seconds = ms / 1000;
  if (seconds < 120) return `${fixed(seconds, 0)}s`;
  if (seconds < 7200) return `${fixed(seconds / 60, 0)} min`;
  return `${fixed(seconds / 3600, 1)} h`;
}

let minRepeats = 4;
let burstMs = 120000n;
let windowMs = 7200000n;
let minHistoryRuns = 30n;
let maxChance = 0.01;
// "key\x1fwho" -> { key, who, command, runs: [[timeMs, id], ...] (BigInt), changesSeen, total, reportedRuns, occasions }
let habits = new Map();
// who -> { total (BigInt), recent: [timeMs, ...] within the window (BigInt) }
let people = new Map();
let fileChanges = 0n;

function judge(habit, person, nowMs) {
  const runs = habit.runs.length;
  if (runs < minRepeats) return undefined;
  let burst = 0;
  if (habit.reportedRuns > 0) burst = runs;
  else for (let index = runs - 1; index >= 0 && nowMs - habit.runs[index][0] <= burstMs; index--) burst++;
  const inWindow = BigInt(person.recent.length);
  const personBefore = person.total > inWindow ? person.total - inWindow : 0n;
  let usualTest;
  if (personBefore >= minHistoryRuns) {
    const commandBefore = habit.total > BigInt(runs) ? habit.total - BigInt(runs) : 0n;
    const share = Number(commandBefore + 1n) / Number(personBefore + 1n);
    const usual = share * Number(inWindow);
    usualTest = { usual, chance: poissonTail(runs, usual) };
  }
  if (usualTest !== undefined && usualTest.chance <= maxChance) {
    return { runs, firstMs: habit.runs[0][0], usual: usualTest.usual, chance: usualTest.chance };
  }
  if (burst >= minRepeats) {
    return { runs: burst, firstMs: habit.runs[runs - burst][0], usual: usualTest?.usual, chance: undefined };
  }
  return undefined;
}

function ran(key, who, event) {
  let person = people.get(who);
  if (person === undefined) {
    person = { total: 0n, recent: [] };
    people.set(who, person);
  }
  person.total += 1n;
  while (person.recent.length > 0 && event.timeMs - person.recent[0] > windowMs) person.recent.shift();
  person.recent.push(event.timeMs);
  const mapKey = `${key}\x1f${who}`;
  let habit = habits.get(mapKey);
  if (habit === undefined) {
    habit = { key, who, command: "", runs: [], changesSeen: 0n, total: 0n, reportedRuns: 0, occasions: 0 };
    habits.set(mapKey, habit);
  }
  habit.total += 1n;
  const runs = habit.runs;
  while (runs.length > 0 && event.timeMs - runs[0][0] > windowMs) runs.shift();
  if (habit.changesSeen !== fileChanges) runs.length = 0;
  if (runs.length === 0) {
    habit.reportedRuns = 0;
    habit.command = (event.subject ?? "").replace(EDGES, "");
  }
  habit.changesSeen = fileChanges;
  runs.push([event.timeMs, event.id]);

  const judgement = judge(habit, person, event.timeMs);
  if (judgement === undefined) return undefined;
  if (habit.reportedRuns > 0 && judgement.runs < habit.reportedRuns * GROWTH) return undefined;
  if (habit.reportedRuns === 0) habit.occasions += 1;
  habit.reportedRuns = judgement.runs;
  const occasions = habit.occasions;
  const command = habit.command;
  const spanMs = Number(event.timeMs - judgement.firstMs);
  const usualWords =
    judgement.usual !== undefined && judgement.chance !== undefined
      ? `, against about ${fixed(judgement.usual, 1)} at their usual rate`
      : "";
  const confidence = 0.6 + 0.1 * (judgement.runs - minRepeats) + 0.1 * (occasions - 1);
  const windowSeconds = (judgement.chance !== undefined ? windowMs : burstMs) / 1000n;
  const fields = [
    { key: "command", value: { tag: "text", val: command } },
    { key: "runs", value: { tag: "integer", val: BigInt(judgement.runs) } },
    { key: "span_seconds", value: { tag: "float", val: spanMs / 1000 } },
    { key: "occasions", value: { tag: "integer", val: BigInt(occasions) } },
    { key: "window_seconds", value: { tag: "integer", val: windowSeconds } },
  ];
  if (judgement.usual !== undefined) {
    fields.push({ key: "usual_runs_per_window", value: { tag: "float", val: rustRound(judgement.usual * 100) / 100 } });
  }
  if (judgement.chance !== undefined) {
    fields.push({ key: "chance_at_usual_rate", value: { tag: "float", val: rustRound(judgement.chance * 1e6) / 1e6 } });
  }
  if (event.actor !== undefined && event.actor !== null) {
    fields.push({ key: "actor", value: { tag: "text", val: event.actor } });
  }
  const eventIds = [];
  let timeMs = 0n;
  for (const [time, id] of runs.slice(runs.length - judgement.runs)) {
    if (eventIds.length < MAX_EVIDENCE_EVENTS && !eventIds.includes(id)) eventIds.push(id);
    if (time > timeMs) timeMs = time;
  }
  return {
    pattern: PATTERN,
    key: mapKey,
    severity: occasions >= 3 ? "warning" : "info",
    confidence: Math.max(0, Math.min(confidence, 0.95)),
    message: `\`${command}\` was run ${judgement.runs} times in ${spanWords(spanMs)} by ${who === "" ? "one user" : who}${usualWords}`,
    recommendation:
      `Make \`${command}\` say clearly whether it worked and what changed (a summary line, ` +
      "a non-zero exit code on failure), so nobody has to run it again to check.",
    evidence: { eventIds, fields },
    affectedThreads: event.threadId === undefined || event.threadId === null ? [] : [event.threadId],
    timeMs,
  };
}

function onEvent(event) {
  if (event.kind.startsWith("file.") || FILE_CHANGES.has(event.kind)) {
    fileChanges += 1n;
    return undefined;
  }
  const key = commandKey(event.subject ?? "");
  if (key === "") return undefined;
  const who = event.threadId ?? event.actor ?? "";
  if (event.outcome.status === "failure") {
    const habit = habits.get(`${key}\x1f${who}`);
    if (habit !== undefined) habit.runs.length = 0;
    return undefined;
  }
  return ran(key, who, event);
}

/** Rust's byte order of strings (UTF-8 order is code point order). */
function compareStrings(a, b) {
  const left = [...a];
  const right = [...b];
  for (let index = 0; index < Math.min(left.length, right.length); index++) {
    const difference = left[index].codePointAt(0) - right[index].codePointAt(0);
    if (difference !== 0) return difference;
  }
  return left.length - right.length;
}

/** The state as the Rust version writes it (`keep_state!`, format 1), integers exact. */
function saveState() {
  const sorted = [...habits.values()].sort((a, b) => compareStrings(a.key, b.key) || compareStrings(a.who, b.who));
  const habitsJson = sorted.map((habit) => {
    const runs = habit.runs.map(([time, id]) => `[${time},${id}]`).join(",");
    return (
      `[[${JSON.stringify(habit.key)},${JSON.stringify(habit.who)}],{"command":${JSON.stringify(habit.command)},` +
      `"runs":[${runs}],"changes_seen":${habit.changesSeen},"total":${habit.total},` +
      `"reported_runs":${habit.reportedRuns},"occasions":${habit.occasions}}]`
    );
  });
  const peopleJson = [...people.entries()]
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([who, person]) => `${JSON.stringify(who)}:{"total":${person.total},"recent":[${person.recent.join(",")}]}`);
  return (
    `{"format":${STATE_FORMAT},"state":{"habits":[${habitsJson.join(",")}],` +
    `"people":{${peopleJson.join(",")}},"file_changes":${fileChanges}}}`
  );
}

/** Reads the state; numbers are quoted before parsing so 64-bit ids survive exactly. */
function loadState(text) {
  const quoted = text.replace(/"(?:[^"\\]|\\.)*"|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g, (match, number) =>
    number === undefined ? match : `"${number}"`,
  );
  const saved = JSON.parse(quoted);
  const keys = Object.keys(saved);
  let format = 0;
  if (keys.length === 2 && keys.includes("format") && keys.includes("state") && /^\d+$/.test(saved.format)) {
    format = Number(saved.format);
  }
  if (format > STATE_FORMAT) {
    throw `the saved state is in format ${format}, written by a newer version of this detector (this one reads format ${STATE_FORMAT}); starting fresh`;
  }
  if (format < STATE_FORMAT) {
    throw `the saved state is in format ${format}, from the burst-only version of this detector; starting fresh`;
  }
  const restoredHabits = new Map();
  for (const [[key, who], habit] of saved.state.habits) {
    restoredHabits.set(`${key}\x1f${who}`, {
      key,
      who,
      command: habit.command,
      runs: habit.runs.map(([time, id]) => [BigInt(time), BigInt(id)]),
      changesSeen: BigInt(habit.changes_seen),
      total: BigInt(habit.total),
      reportedRuns: Number(habit.reported_runs),
      occasions: Number(habit.occasions),
    });
  }
  const restoredPeople = new Map();
  for (const [who, person] of Object.entries(saved.state.people)) {
    restoredPeople.set(who, { total: BigInt(person.total), recent: person.recent.map((time) => BigInt(time)) });
  }
  return { habits: restoredHabits, people: restoredPeople, fileChanges: BigInt(saved.state.file_changes) };
}

export const detector = {
  describe() {
    return {
      id: "command-repetition",
      version: "0.1.0",
      apiVersion: "0.1.0",
      patterns: [PATTERN],
      kinds: KINDS,
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
    burstMs = integerAtLeast(values, "burst_seconds", 1) * 1000n;
    windowMs = integerAtLeast(values, "window_seconds", 1) * 1000n;
    minHistoryRuns = integerAtLeast(values, "min_history_runs", 0);
    maxChance = numberSetting(values, "max_chance");
    if (!(maxChance >= 0 && maxChance <= 1)) {
      throw `setting \`max_chance\` must be between 0 and 1, not ${maxChance}`;
    }
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
      ({ habits, people, fileChanges } = loadState(new TextDecoder().decode(state)));
    } catch (error) {
      throw typeof error === "string" ? error : `cannot read the saved state: ${error}`;
    }
  },
};
