// command_repetition in C: one command run unusually often by one person, unexplained.
//
// A port of plugins/command-repetition (Rust) that passes the same conformance cases. It hands
// its state over in the Rust version's snapshot (JSON, format 1), so a hot swap between any two
// languages keeps the runs seen so far.
//
// Build (see notes/polyglot-readme.md):
//   wit-bindgen c ../../wit/since_v0.1.0 --world detector-plugin --out-dir bindings
//   clang --target=wasm32-wasi --sysroot=/usr -mexec-model=reactor -O2 -I bindings \
//     detector.c bindings/detector_plugin.c bindings/detector_plugin_component_type.o -o core.wasm
//   wasm-tools component new core.wasm -o command_repetition_c.wasm
//
// It formats text with a small string builder rather than printf: stdio would make the component
// import WASI files, which a detector has no use for.
//
// Ownership, as wit-bindgen's C generator defines it: arguments belong to the detector (freed
// here with the generated *_free functions), and everything returned must be malloc'd, because
// the generated post-return functions free it after the host has copied it.

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "detector_plugin.h"

#define PATTERN "command_repetition"
#define MAX_EVIDENCE_EVENTS 20
#define GROWTH 1.5  // how much an occasion must grow before its finding is updated (half again)

typedef detector_plugin_string_t string_t;
typedef devloop_detector_types_value_t value_t;
typedef devloop_detector_types_field_t field_t;
typedef devloop_detector_types_event_t event_t;
typedef devloop_detector_types_insight_t insight_t;

// ---- small helpers ---------------------------------------------------------------------------

static void *checked(void *pointer) {
  if (pointer == NULL) abort();  // out of memory: a trap the host contains
  return pointer;
}

static string_t owned_bytes(const uint8_t *bytes, size_t len) {
  string_t out = {.ptr = NULL, .len = len};
  if (len > 0) {
    out.ptr = checked(malloc(len));
    memcpy(out.ptr, bytes, len);
  }
  return out;
}

static string_t owned(const char *text) { return owned_bytes((const uint8_t *)text, strlen(text)); }

/// A growing malloc'd string.
typedef struct {
  string_t text;
  size_t capacity;
} builder_t;

static void append_bytes(builder_t *out, const uint8_t *bytes, size_t len) {
  if (out->text.len + len > out->capacity) {
    out->capacity = (out->text.len + len) * 2 + 16;
    out->text.ptr = checked(realloc(out->text.ptr, out->capacity));
  }
  memcpy(out->text.ptr + out->text.len, bytes, len);
  out->text.len += len;
}

static void append(builder_t *out, const char *text) { append_bytes(out, (const uint8_t *)text, strlen(text)); }

static void append_string(builder_t *out, string_t text) { append_bytes(out, text.ptr, text.len); }

static void append_integer(builder_t *out, int64_t value) {
  char digits[24];
  size_t at = sizeof(digits);
  uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
  do {
    digits[--at] = (char)('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude > 0);
  if (value < 0) digits[--at] = '-';
  append_bytes(out, (const uint8_t *)digits + at, sizeof(digits) - at);
}

/// Milliseconds as whole seconds, rounded like Rust's `{:.0}`: ties go to the even number.
static void append_seconds(builder_t *out, int64_t milliseconds) {
  int64_t seconds = milliseconds / 1000, rest = milliseconds % 1000;
  if (rest < 0) {
    seconds -= 1;
    rest += 1000;
  }
  if (rest > 500 || (rest == 500 && seconds % 2 != 0)) seconds += 1;
  if (seconds == 0 && milliseconds < 0) append(out, "-");
  append_integer(out, seconds);
}

static bool equals(string_t text, const char *literal) {
  return text.len == strlen(literal) && memcmp(text.ptr, literal, text.len) == 0;
}

static value_t integer_value(int64_t integer) {
  return (value_t){.tag = DEVLOOP_DETECTOR_TYPES_VALUE_INTEGER, .val.integer = integer};
}

static field_t field(const char *key, value_t value) { return (field_t){.key = owned(key), .value = value}; }

// ---- normalizing commands --------------------------------------------------------------------

/// Decodes the UTF-8 character at `text[*at]`, advancing `*at`. The host sends valid UTF-8.
static uint32_t next_char(const uint8_t *text, size_t len, size_t *at) {
  uint8_t lead = text[*at];
  size_t extra = lead < 0x80 ? 0 : lead < 0xE0 ? 1 : lead < 0xF0 ? 2 : 3;
  uint32_t code = extra == 0 ? lead : lead & (0x3F >> extra);
  *at += 1;
  for (size_t i = 0; i < extra && *at < len; i++, (*at)++) code = (code << 6) | (text[*at] & 0x3F);
  return code;
}

/// Rust's `char::is_whitespace` (Unicode White_Space), so both versions split commands alike.
static bool is_whitespace(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

/// Collapses whitespace so `bd  ready` and `bd ready ` are one command. Returns a malloc'd copy.
static string_t normalize(string_t command) {
  string_t out = {.ptr = checked(malloc(command.len + 1)), .len = 0};
  bool pending_space = false;
  size_t at = 0;
  while (at < command.len) {
    size_t start = at;
    if (is_whitespace(next_char(command.ptr, command.len, &at))) {
      pending_space = out.len > 0;
      continue;
    }
    if (pending_space) out.ptr[out.len++] = ' ';
    pending_space = false;
    memcpy(out.ptr + out.len, command.ptr + start, at - start);
    out.len += at - start;
  }
  return out;
}

// ---- state -----------------------------------------------------------------------------------

typedef struct {
  int64_t time_ms;
  uint64_t id;
} run_t;

/// The unexplained runs of one command by one person (see the Rust version's `Habit`).
typedef struct {
  string_t key;      // "command key\x1fwho"
  size_t command_key_len;  // where the command key ends in `key` (people: unused)
  string_t command;  // as logged by the first run of the current repeats
  run_t *runs;       // runs[head..len] are inside the window
  size_t head, len, capacity;
  uint64_t changes_seen, total;
  int64_t reported_runs;
  uint32_t occasions;
} habit_t;

typedef struct {
  habit_t *table;  // open addressing on the key's FNV-1a hash; empty slots have key.ptr == NULL
  size_t capacity, used;
} table_t;

static struct {
  int64_t min_repeats, burst_ms, window_ms, min_history_runs;
  double max_chance;
  uint64_t file_changes;
  table_t habits, people;
} state = {.min_repeats = 4, .burst_ms = 120000, .window_ms = 7200000, .min_history_runs = 30, .max_chance = 0.01};

static uint64_t hash(string_t key) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < key.len; i++) h = (h ^ key.ptr[i]) * 0x100000001b3ULL;
  return h;
}

static habit_t *slot_for(habit_t *table, size_t capacity, string_t key) {
  size_t i = hash(key) & (capacity - 1);
  while (table[i].key.ptr != NULL && !(table[i].key.len == key.len && memcmp(table[i].key.ptr, key.ptr, key.len) == 0))
    i = (i + 1) & (capacity - 1);
  return &table[i];
}

/// The record for `key` in `t` (taking ownership of the key), created when missing.
static habit_t *record_for(table_t *t, string_t key, bool *created) {
  if ((t->used + 1) * 2 > t->capacity) {
    size_t capacity = t->capacity == 0 ? 64 : t->capacity * 2;
    habit_t *table = checked(calloc(capacity, sizeof(habit_t)));
    for (size_t i = 0; i < t->capacity; i++)
      if (t->table[i].key.ptr != NULL) *slot_for(table, capacity, t->table[i].key) = t->table[i];
    free(t->table);
    t->table = table;
    t->capacity = capacity;
  }
  habit_t *record = slot_for(t->table, t->capacity, key);
  *created = record->key.ptr == NULL;
  if (*created) {
    record->key = key;
    t->used++;
  } else {
    free(key.ptr);
  }
  return record;
}

static habit_t *find(table_t *t, string_t key) {
  if (t->capacity == 0) return NULL;
  habit_t *record = slot_for(t->table, t->capacity, key);
  return record->key.ptr == NULL ? NULL : record;
}

static void push_run(habit_t *habit, run_t run) {
  if (habit->head > 0 && habit->head == habit->len) habit->head = habit->len = 0;
  if (habit->len == habit->capacity) {
    if (habit->head > 0) {
      memmove(habit->runs, habit->runs + habit->head, (habit->len - habit->head) * sizeof(run_t));
      habit->len -= habit->head;
      habit->head = 0;
    } else {
      habit->capacity = habit->capacity == 0 ? 8 : habit->capacity * 2;
      habit->runs = checked(realloc(habit->runs, habit->capacity * sizeof(run_t)));
    }
  }
  habit->runs[habit->len++] = run;
}

/// `text` without the whitespace at both ends (Rust's `str::trim`), malloc'd.
static string_t trimmed(string_t text) {
  size_t start = 0, end = 0, at = 0;
  bool any = false;
  while (at < text.len) {
    size_t before = at;
    if (!is_whitespace(next_char(text.ptr, text.len, &at))) {
      if (!any) start = before;
      any = true;
      end = at;
    }
  }
  return any ? owned_bytes(text.ptr + start, end - start) : owned("");
}

// ---- numbers as the Rust version writes them -------------------------------------------------

/// P(X >= n) for X ~ Poisson(mean), summed in the Rust version's order.
static double poisson_tail(int64_t n, double mean) {
  if (n == 0) return 1.0;
  double term = exp(-mean), below = term;
  for (int64_t k = 1; k < n; k++) {
    term *= mean / (double)k;
    below += term;
  }
  return fmax(1.0 - below, 0.0);
}

/// Rust's `f64::round` for the non-negative values used here: halves away from zero.
static double rust_round(double x) { return floor(x + 0.5); }

/// `x` (non-negative) with one decimal, as Rust's `{:.1}` writes it: exact ties go to even.
static void append_tenths(builder_t *out, double x) {
  double scaled = x * 10.0;
  bool tie = floor(x * 4.0) == x * 4.0 && floor(x * 2.0) != x * 2.0;
  int64_t tenths = (int64_t)(tie ? (fmod(floor(scaled), 2.0) == 0.0 ? floor(scaled) : floor(scaled) + 1.0) : floor(scaled + 0.5));
  append_integer(out, tenths / 10);
  append(out, ".");
  append_integer(out, tenths % 10);
}

/// A span in words: seconds under two minutes, minutes under two hours, hours beyond.
static void append_span(builder_t *out, int64_t ms) {
  if (ms < 120000) {
    append_seconds(out, ms);
    append(out, "s");
  } else if (ms < 7200000) {
    int64_t minutes = ms / 60000, rest = ms % 60000;
    if (rest > 30000 || (rest == 30000 && minutes % 2 != 0)) minutes += 1;
    append_integer(out, minutes);
    append(out, " min");
  } else {
    append_tenths(out, ((double)ms / 1000.0) / 3600.0);
    append(out, " h");
  }
}

// ---- the detector ----------------------------------------------------------------------------

static bool is_file_change(string_t kind) {
  return (kind.len >= 5 && memcmp(kind.ptr, "file.", 5) == 0) || equals(kind, "audit.file_modified") ||
         equals(kind, "audit.file_created") || equals(kind, "audit.fix_applied");
}

static bool on_event(const event_t *event, insight_t *insight) {
  if (is_file_change(event->kind)) {
    state.file_changes += 1;
    return false;
  }
  string_t subject = event->subject.is_some ? event->subject.val : (string_t){0};
  string_t command_key = normalize(subject);
  if (command_key.len == 0) {
    free(command_key.ptr);
    return false;
  }
  string_t who = event->thread_id.is_some ? event->thread_id.val
                 : event->actor.is_some   ? event->actor.val
                                          : (string_t){.ptr = (uint8_t *)"", .len = 0};
  builder_t key_text = {0};
  append_string(&key_text, command_key);
  append(&key_text, "\x1f");
  append_string(&key_text, who);
  string_t key = key_text.text;
  free(command_key.ptr);
  bool created;
  if (event->outcome.status == DEVLOOP_DETECTOR_TYPES_STATUS_FAILURE) {
    habit_t *habit = find(&state.habits, key);
    if (habit != NULL) habit->head = habit->len = 0;
    free(key.ptr);
    return false;
  }
  // A person record keeps their runs of every command in `runs` and the count in `total`.
  habit_t *person = record_for(&state.people, owned_bytes(who.ptr, who.len), &created);
  person->total += 1;
  while (person->head < person->len && event->time_ms - person->runs[person->head].time_ms > state.window_ms)
    person->head++;
  push_run(person, (run_t){.time_ms = event->time_ms, .id = event->id});
  habit_t *habit = record_for(&state.habits, owned_bytes(key.ptr, key.len), &created);
  if (created) habit->command_key_len = key.len - who.len - 1;
  habit->total += 1;
  while (habit->head < habit->len && event->time_ms - habit->runs[habit->head].time_ms > state.window_ms) habit->head++;
  if (habit->changes_seen != state.file_changes) habit->head = habit->len = 0;
  if (habit->head == habit->len) {
    habit->reported_runs = 0;
    free(habit->command.ptr);
    habit->command = trimmed(subject);
  }
  habit->changes_seen = state.file_changes;
  push_run(habit, (run_t){.time_ms = event->time_ms, .id = event->id});

  // Judge: a burst, or improbably many at the person's usual rate.
  int64_t runs = (int64_t)(habit->len - habit->head);
  const run_t *window = habit->runs + habit->head;
  if (runs < state.min_repeats) {
    free(key.ptr);
    return false;
  }
  int64_t burst = 0;
  if (habit->reported_runs > 0) burst = runs;
  else
    for (int64_t i = runs - 1; i >= 0 && event->time_ms - window[i].time_ms <= state.burst_ms; i--) burst++;
  uint64_t in_window = (uint64_t)(person->len - person->head);
  uint64_t person_before = person->total > in_window ? person->total - in_window : 0;
  bool has_usual = person_before >= (uint64_t)state.min_history_runs;
  double usual = 0.0, chance = 1.0;
  if (has_usual) {
    uint64_t command_before = habit->total > (uint64_t)runs ? habit->total - (uint64_t)runs : 0;
    double share = (double)(command_before + 1) / (double)(person_before + 1);
    usual = share * (double)in_window;
    chance = poisson_tail(runs, usual);
  }
  bool by_rate = has_usual && chance <= state.max_chance;
  if (!by_rate && burst < state.min_repeats) {
    free(key.ptr);
    return false;
  }
  int64_t judged = by_rate ? runs : burst;
  const run_t *first = window + (runs - judged);
  if (habit->reported_runs > 0 && (double)judged < (double)habit->reported_runs * GROWTH) {
    free(key.ptr);
    return false;
  }
  if (habit->reported_runs == 0) habit->occasions += 1;
  habit->reported_runs = judged;

  int64_t span_ms = event->time_ms - first[0].time_ms;
  double confidence = 0.6 + 0.1 * (double)(judged - state.min_repeats) + 0.1 * (double)(habit->occasions - 1);
  confidence = fmin(confidence, 0.95);
  builder_t message = {0};
  append(&message, "`");
  append_string(&message, habit->command);
  append(&message, "` was run ");
  append_integer(&message, judged);
  append(&message, " times in ");
  append_span(&message, span_ms);
  append(&message, " by ");
  if (who.len > 0) append_string(&message, who);
  else append(&message, "one user");
  if (by_rate) {
    append(&message, ", against about ");
    append_tenths(&message, usual);
    append(&message, " at their usual rate");
  }
  builder_t recommendation = {0};
  append(&recommendation, "Make `");
  append_string(&recommendation, habit->command);
  append(&recommendation, "` say clearly whether it worked and what changed (a summary line, a non-zero exit code "
                          "on failure), so nobody has to run it again to check.");
  *insight = (insight_t){
      .pattern = owned(PATTERN),
      .key = key,
      .severity = habit->occasions >= 3 ? DEVLOOP_DETECTOR_TYPES_SEVERITY_WARNING : DEVLOOP_DETECTOR_TYPES_SEVERITY_INFO,
      .confidence = (float)fmax(0.0, fmin(confidence, 1.0)),
      .message = message.text,
      .recommendation = recommendation.text,
  };

  size_t ids = 0;
  insight->evidence.event_ids.ptr = checked(malloc(MAX_EVIDENCE_EVENTS * sizeof(uint64_t)));
  for (int64_t i = 0; i < judged; i++) {
    bool seen = false;
    for (size_t j = 0; j < ids; j++) seen = seen || insight->evidence.event_ids.ptr[j] == first[i].id;
    if (ids < MAX_EVIDENCE_EVENTS && !seen) insight->evidence.event_ids.ptr[ids++] = first[i].id;
    if (first[i].time_ms > insight->time_ms) insight->time_ms = first[i].time_ms;
  }
  insight->evidence.event_ids.len = ids;

  field_t *fields = checked(malloc(8 * sizeof(field_t)));
  size_t count = 0;
  string_t command = owned_bytes(habit->command.ptr, habit->command.len);
  fields[count++] = field("command", (value_t){.tag = DEVLOOP_DETECTOR_TYPES_VALUE_TEXT, .val.text = command});
  fields[count++] = field("runs", integer_value(judged));
  fields[count++] = field("span_seconds", (value_t){.tag = DEVLOOP_DETECTOR_TYPES_VALUE_FLOAT, .val.float_ = (double)span_ms / 1000.0});
  fields[count++] = field("occasions", integer_value(habit->occasions));
  fields[count++] = field("window_seconds", integer_value((by_rate ? state.window_ms : state.burst_ms) / 1000));
  if (has_usual) {
    double rounded = rust_round(usual * 100.0) / 100.0;
    fields[count++] = field("usual_runs_per_window", (value_t){.tag = DEVLOOP_DETECTOR_TYPES_VALUE_FLOAT, .val.float_ = rounded});
  }
  if (by_rate) {
    double rounded = rust_round(chance * 1e6) / 1e6;
    fields[count++] = field("chance_at_usual_rate", (value_t){.tag = DEVLOOP_DETECTOR_TYPES_VALUE_FLOAT, .val.float_ = rounded});
  }
  if (event->actor.is_some) {
    string_t actor = owned_bytes(event->actor.val.ptr, event->actor.val.len);
    fields[count++] = field("actor", (value_t){.tag = DEVLOOP_DETECTOR_TYPES_VALUE_TEXT, .val.text = actor});
  }
  insight->evidence.fields = (devloop_detector_types_list_field_t){.ptr = fields, .len = count};

  if (event->thread_id.is_some) {
    insight->affected_threads.ptr = checked(malloc(sizeof(string_t)));
    insight->affected_threads.ptr[0] = owned_bytes(event->thread_id.val.ptr, event->thread_id.val.len);
    insight->affected_threads.len = 1;
  }
  return true;
}

static const struct {
  const char *name, *description;
  int64_t default_value, minimum;
} SETTINGS[] = {
    {"min_repeats",
     "Unexplained successful runs of one command that can make a finding. Default 4: doubles and triples are "
     "everyday habit (`git status`), a fourth run with nothing changed is not.",
     4, 2},
    {"burst_seconds",
     "A burst: `min_repeats` runs this close together are reported whatever the person's habits. Default 120: "
     "nobody's routine runs one command four times in two minutes.",
     120, 1},
    {"window_seconds",
     "The longer view: `min_repeats` or more runs within it are judged against the person's own usual rate of "
     "that command. Default 7200 (2 h): \"`bd ready` 4 times in 2 hours\".",
     7200, 1},
    {"min_history_runs",
     "Commands the person ran before the window, before their usual mix is trusted. Default 30: a day or two of "
     "work shows a person's habits; before that only bursts are reported.",
     30, 0},
};
#define SETTING_COUNT (sizeof(SETTINGS) / sizeof(SETTINGS[0]))
#define MAX_CHANCE_DESCRIPTION                                                                                    \
  "How improbable the count must be at the person's usual rate (one-sided Poisson) to be reported. Default 0.01: " \
  "one false alarm in a hundred windows at most, per command."
#define KNOWN_SETTINGS "min_repeats, burst_seconds, window_seconds, min_history_runs, max_chance"

static const char *KINDS[] = {"cli.command", "file.*", "audit.file_modified", "audit.file_created", "audit.fix_applied"};
#define KIND_COUNT (sizeof(KINDS) / sizeof(KINDS[0]))

static detector_plugin_list_string_t strings(const char *only) {
  detector_plugin_list_string_t list = {.ptr = checked(malloc(sizeof(string_t))), .len = 1};
  list.ptr[0] = owned(only);
  return list;
}

void exports_devloop_detector_detector_describe(exports_devloop_detector_detector_info_t *ret) {
  exports_devloop_detector_detector_config_key_t *config = checked(malloc((SETTING_COUNT + 1) * sizeof(*config)));
  for (size_t i = 0; i < SETTING_COUNT; i++) {
    config[i] = (exports_devloop_detector_detector_config_key_t){
        .name = owned(SETTINGS[i].name),
        .default_value = integer_value(SETTINGS[i].default_value),
        .description = owned(SETTINGS[i].description),
    };
  }
  config[SETTING_COUNT] = (exports_devloop_detector_detector_config_key_t){
      .name = owned("max_chance"),
      .default_value = (value_t){.tag = DEVLOOP_DETECTOR_TYPES_VALUE_FLOAT, .val.float_ = 0.01},
      .description = owned(MAX_CHANCE_DESCRIPTION),
  };
  detector_plugin_list_string_t kinds = {.ptr = checked(malloc(KIND_COUNT * sizeof(string_t))), .len = KIND_COUNT};
  for (size_t i = 0; i < KIND_COUNT; i++) kinds.ptr[i] = owned(KINDS[i]);
  *ret = (exports_devloop_detector_detector_info_t){
      .id = owned("command-repetition"),
      .version = owned("0.1.0"),
      .api_version = owned("0.1.0"),
      .patterns = strings(PATTERN),
      .kinds = kinds,
      .config = {.ptr = config, .len = SETTING_COUNT + 1},
      .language = owned("c"),
  };
}

/// Reads a whole number (a float with no fraction counts) of at least `minimum`.
static bool integer_at_least(const char *name, value_t value, int64_t minimum, int64_t *out, string_t *err) {
  builder_t message = {0};
  append(&message, "setting `");
  append(&message, name);
  if (value.tag == DEVLOOP_DETECTOR_TYPES_VALUE_INTEGER) {
    *out = value.val.integer;
  } else if (value.tag == DEVLOOP_DETECTOR_TYPES_VALUE_FLOAT && isfinite(value.val.float_) &&
             trunc(value.val.float_) == value.val.float_) {
    *out = (int64_t)value.val.float_;
  } else {
    append(&message, "` must be a whole number, not ");
    append(&message, value.tag == DEVLOOP_DETECTOR_TYPES_VALUE_FLOAT ? "a fraction" : "a value of another type");
    *err = message.text;
    return false;
  }
  if (*out < minimum) {
    append(&message, "` must be at least ");
    append_integer(&message, minimum);
    append(&message, ", not ");
    append_integer(&message, *out);
    *err = message.text;
    return false;
  }
  free(message.text.ptr);
  return true;
}

bool exports_devloop_detector_detector_configure(exports_devloop_detector_detector_list_field_t *settings,
                                                 string_t *err) {
  int64_t values[SETTING_COUNT];
  value_t given[SETTING_COUNT];
  for (size_t i = 0; i < SETTING_COUNT; i++) given[i] = integer_value(SETTINGS[i].default_value);
  value_t max_chance = {.tag = DEVLOOP_DETECTOR_TYPES_VALUE_FLOAT, .val.float_ = 0.01};
  bool ok = true;
  for (size_t f = 0; f < settings->len && ok; f++) {
    size_t i = 0;
    while (i < SETTING_COUNT && !equals(settings->ptr[f].key, SETTINGS[i].name)) i++;
    if (i < SETTING_COUNT) {
      given[i] = settings->ptr[f].value;
    } else if (equals(settings->ptr[f].key, "max_chance")) {
      max_chance = settings->ptr[f].value;
    } else {
      builder_t message = {0};
      append(&message, "unknown setting `");
      append_string(&message, settings->ptr[f].key);
      append(&message, "`; this detector accepts: " KNOWN_SETTINGS);
      *err = message.text;
      ok = false;
    }
  }
  for (size_t i = 0; i < SETTING_COUNT && ok; i++)
    ok = integer_at_least(SETTINGS[i].name, given[i], SETTINGS[i].minimum, &values[i], err);
  double chance = 0.0;
  if (ok) {
    if (max_chance.tag == DEVLOOP_DETECTOR_TYPES_VALUE_FLOAT) {
      chance = max_chance.val.float_;
    } else if (max_chance.tag == DEVLOOP_DETECTOR_TYPES_VALUE_INTEGER) {
      chance = (double)max_chance.val.integer;
    } else {
      *err = owned("setting `max_chance` must be a number, not a value of another type");
      ok = false;
    }
  }
  if (ok && !(chance >= 0.0 && chance <= 1.0)) {
    *err = owned("setting `max_chance` must be between 0 and 1");
    ok = false;
  }
  if (ok) {
    state.min_repeats = values[0];
    state.burst_ms = values[1] * 1000;
    state.window_ms = values[2] * 1000;
    state.min_history_runs = values[3];
    state.max_chance = chance;
  }
  exports_devloop_detector_detector_list_field_free(settings);
  return ok;
}

bool exports_devloop_detector_detector_process(exports_devloop_detector_detector_list_event_t *events,
                                               exports_devloop_detector_detector_list_insight_t *ret,
                                               string_t *err) {
  (void)err;
  *ret = (exports_devloop_detector_detector_list_insight_t){0};
  size_t capacity = 0;
  for (size_t i = 0; i < events->len; i++) {
    insight_t insight;
    if (!on_event(&events->ptr[i], &insight)) continue;
    if (ret->len == capacity) {
      capacity = capacity == 0 ? 4 : capacity * 2;
      ret->ptr = checked(realloc(ret->ptr, capacity * sizeof(insight_t)));
    }
    ret->ptr[ret->len++] = insight;
  }
  exports_devloop_detector_detector_list_event_free(events);
  return true;
}

bool exports_devloop_detector_detector_tick(int64_t now_ms, exports_devloop_detector_detector_list_insight_t *ret,
                                            string_t *err) {
  (void)now_ms;
  (void)err;
  *ret = (exports_devloop_detector_detector_list_insight_t){0};
  return true;
}

// ---- state hand-over: the Rust version's snapshot ------------------------------------------
//
// {"format": 1, "state": {"habits": [[[command key, who], {"command", "runs": [[time, id], …],
// "changes_seen", "total", "reported_runs", "occasions"}], …], "people": {who: {"total",
// "recent": [time, …]}, …}, "file_changes": n}}

#define STATE_FORMAT 1
#define MAX_JSON_DEPTH 32

static void append_unsigned(builder_t *out, uint64_t value) {
  char digits[24];
  size_t at = sizeof(digits);
  do {
    digits[--at] = (char)('0' + value % 10);
    value /= 10;
  } while (value > 0);
  append_bytes(out, (const uint8_t *)digits + at, sizeof(digits) - at);
}

static void append_json_string(builder_t *out, const uint8_t *text, size_t len) {
  static const char HEX[] = "0123456789abcdef";
  append(out, "\"");
  for (size_t i = 0; i < len; i++) {
    uint8_t byte = text[i];
    if (byte == '"' || byte == '\\') {
      uint8_t escaped[2] = {'\\', byte};
      append_bytes(out, escaped, 2);
    } else if (byte < 0x20) {
      uint8_t escaped[6] = {'\\', 'u', '0', '0', (uint8_t)HEX[byte >> 4], (uint8_t)HEX[byte & 15]};
      append_bytes(out, escaped, 6);
    } else {
      append_bytes(out, &byte, 1);
    }
  }
  append(out, "\"");
}

static void append_times(builder_t *out, const habit_t *record, bool with_ids) {
  append(out, "[");
  for (size_t i = record->head; i < record->len; i++) {
    if (i > record->head) append(out, ",");
    if (with_ids) append(out, "[");
    append_integer(out, record->runs[i].time_ms);
    if (with_ids) {
      append(out, ",");
      append_unsigned(out, record->runs[i].id);
      append(out, "]");
    }
  }
  append(out, "]");
}

bool exports_devloop_detector_detector_snapshot(detector_plugin_list_u8_t *ret) {
  builder_t out = {0};
  append(&out, "{\"format\":");
  append_integer(&out, STATE_FORMAT);
  append(&out, ",\"state\":{\"habits\":[");
  bool first = true;
  for (size_t i = 0; i < state.habits.capacity; i++) {
    const habit_t *habit = &state.habits.table[i];
    if (habit->key.ptr == NULL) continue;
    if (!first) append(&out, ",");
    first = false;
    size_t who = habit->command_key_len + 1;
    append(&out, "[[");
    append_json_string(&out, habit->key.ptr, habit->command_key_len);
    append(&out, ",");
    append_json_string(&out, habit->key.ptr + who, habit->key.len - who);
    append(&out, "],{\"command\":");
    append_json_string(&out, habit->command.ptr, habit->command.len);
    append(&out, ",\"runs\":");
    append_times(&out, habit, true);
    append(&out, ",\"changes_seen\":");
    append_unsigned(&out, habit->changes_seen);
    append(&out, ",\"total\":");
    append_unsigned(&out, habit->total);
    append(&out, ",\"reported_runs\":");
    append_integer(&out, habit->reported_runs);
    append(&out, ",\"occasions\":");
    append_unsigned(&out, habit->occasions);
    append(&out, "}]");
  }
  append(&out, "],\"people\":{");
  first = true;
  for (size_t i = 0; i < state.people.capacity; i++) {
    const habit_t *person = &state.people.table[i];
    if (person->key.ptr == NULL) continue;
    if (!first) append(&out, ",");
    first = false;
    append_json_string(&out, person->key.ptr, person->key.len);
    append(&out, ":{\"total\":");
    append_unsigned(&out, person->total);
    append(&out, ",\"recent\":");
    append_times(&out, person, false);
    append(&out, "}");
  }
  append(&out, "},\"file_changes\":");
  append_unsigned(&out, state.file_changes);
  append(&out, "}}");
  *ret = (detector_plugin_list_u8_t){.ptr = out.text.ptr, .len = out.text.len};
  return true;
}

/// A parsed JSON value: just what the snapshot holds (numbers are whole).
typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type_t;

typedef struct json {
  json_type_t type;
  bool negative, whole;  // numbers: the sign, and whether it has no fraction or exponent
  uint64_t magnitude;
  string_t text;         // strings
  struct json *items;    // arrays and objects
  string_t *keys;        // objects
  size_t len;
} json_t;

typedef struct {
  const uint8_t *at, *end;
  const char *error;
} parser_t;

static void json_free(json_t *value) {
  free(value->text.ptr);
  for (size_t i = 0; i < value->len; i++) {
    json_free(&value->items[i]);
    if (value->keys != NULL) free(value->keys[i].ptr);
  }
  free(value->items);
  free(value->keys);
}

static void skip_space(parser_t *p) {
  while (p->at < p->end && (*p->at == ' ' || *p->at == '\t' || *p->at == '\n' || *p->at == '\r')) p->at++;
}

static bool fail(parser_t *p, const char *error) {
  if (p->error == NULL) p->error = error;
  return false;
}

static bool hex4(parser_t *p, uint32_t *code) {
  *code = 0;
  for (int i = 0; i < 4; i++) {
    if (p->at >= p->end) return fail(p, "a truncated \\u escape");
    uint8_t c = *p->at++;
    uint32_t digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 16;
    if (digit == 16) return fail(p, "a bad \\u escape");
    *code = *code * 16 + digit;
  }
  return true;
}

static void append_utf8(builder_t *out, uint32_t code) {
  uint8_t bytes[4];
  size_t len;
  if (code < 0x80) {
    bytes[0] = (uint8_t)code;
    len = 1;
  } else if (code < 0x800) {
    bytes[0] = (uint8_t)(0xC0 | code >> 6);
    bytes[1] = (uint8_t)(0x80 | (code & 0x3F));
    len = 2;
  } else if (code < 0x10000) {
    bytes[0] = (uint8_t)(0xE0 | code >> 12);
    bytes[1] = (uint8_t)(0x80 | ((code >> 6) & 0x3F));
    bytes[2] = (uint8_t)(0x80 | (code & 0x3F));
    len = 3;
  } else {
    bytes[0] = (uint8_t)(0xF0 | code >> 18);
    bytes[1] = (uint8_t)(0x80 | ((code >> 12) & 0x3F));
    bytes[2] = (uint8_t)(0x80 | ((code >> 6) & 0x3F));
    bytes[3] = (uint8_t)(0x80 | (code & 0x3F));
    len = 4;
  }
  append_bytes(out, bytes, len);
}

static bool parse_string(parser_t *p, string_t *out) {
  builder_t text = {0};
  p->at++;  // the opening quote
  while (p->at < p->end && *p->at != '"') {
    uint8_t c = *p->at++;
    if (c != '\\') {
      append_bytes(&text, &c, 1);
      continue;
    }
    if (p->at >= p->end) break;
    static const char ESCAPES[] = "\"\\/bfnrt";
    static const uint8_t MEANS[] = {'"', '\\', '/', '\b', '\f', '\n', '\r', '\t'};
    uint8_t escape = *p->at++;
    const char *plain = escape == 0 ? NULL : strchr(ESCAPES, escape);
    if (plain != NULL) {
      append_bytes(&text, &MEANS[plain - ESCAPES], 1);
    } else if (escape == 'u') {
      uint32_t code;
      if (!hex4(p, &code)) break;
      if (code >= 0xD800 && code < 0xDC00 && p->end - p->at >= 6 && p->at[0] == '\\' && p->at[1] == 'u') {
        uint32_t low;
        p->at += 2;
        if (!hex4(p, &low)) break;
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
      }
      append_utf8(&text, code);
    } else {
      fail(p, "a bad escape in a string");
      break;
    }
  }
  if (p->error != NULL || p->at >= p->end) {
    free(text.text.ptr);
    return fail(p, "an unterminated string");
  }
  p->at++;  // the closing quote
  *out = text.text;
  if (out->ptr == NULL) *out = owned("");
  return true;
}

static bool parse_value(parser_t *p, json_t *out, int depth);

/// The items of an array or object (`object`: each preceded by a key and a colon).
static bool parse_items(parser_t *p, json_t *out, bool object, int depth) {
  uint8_t close = object ? '}' : ']';
  size_t capacity = 0;
  p->at++;  // the opening bracket
  skip_space(p);
  if (p->at < p->end && *p->at == close) {
    p->at++;
    return true;
  }
  for (;;) {
    if (out->len == capacity) {
      capacity = capacity == 0 ? 4 : capacity * 2;
      out->items = checked(realloc(out->items, capacity * sizeof(json_t)));
      if (object) out->keys = checked(realloc(out->keys, capacity * sizeof(string_t)));
    }
    skip_space(p);
    if (object) {
      if (p->at >= p->end || *p->at != '"') return fail(p, "an object key that is not a string");
      if (!parse_string(p, &out->keys[out->len])) return false;
      skip_space(p);
      if (p->at >= p->end || *p->at != ':') {
        free(out->keys[out->len].ptr);
        return fail(p, "a missing colon");
      }
      p->at++;
    }
    out->items[out->len] = (json_t){0};
    bool parsed = parse_value(p, &out->items[out->len], depth + 1);
    out->len++;  // counted even when incomplete, so json_free frees it
    if (!parsed) return false;
    skip_space(p);
    if (p->at < p->end && *p->at == ',') {
      p->at++;
      continue;
    }
    if (p->at < p->end && *p->at == close) {
      p->at++;
      return true;
    }
    return fail(p, object ? "a missing comma or closing brace" : "a missing comma or closing bracket");
  }
}

static bool parse_literal(parser_t *p, const char *literal) {
  size_t len = strlen(literal);
  if ((size_t)(p->end - p->at) < len || memcmp(p->at, literal, len) != 0) return fail(p, "an unexpected character");
  p->at += len;
  return true;
}

static bool parse_value(parser_t *p, json_t *out, int depth) {
  if (depth > MAX_JSON_DEPTH) return fail(p, "values nested too deeply");
  skip_space(p);
  if (p->at >= p->end) return fail(p, "an unexpected end");
  uint8_t c = *p->at;
  if (c == '{' || c == '[') {
    out->type = c == '{' ? JSON_OBJECT : JSON_ARRAY;
    return parse_items(p, out, c == '{', depth);
  }
  if (c == '"') {
    out->type = JSON_STRING;
    return parse_string(p, &out->text);
  }
  if (c == 't' || c == 'f') {
    out->type = JSON_BOOL;
    return parse_literal(p, c == 't' ? "true" : "false");
  }
  if (c == 'n') {
    out->type = JSON_NULL;
    return parse_literal(p, "null");
  }
  out->type = JSON_NUMBER;
  out->whole = true;
  if (c == '-') {
    out->negative = true;
    p->at++;
  }
  const uint8_t *digits = p->at;
  while (p->at < p->end && *p->at >= '0' && *p->at <= '9') {
    uint64_t digit = *p->at++ - '0';
    if (out->magnitude > (UINT64_MAX - digit) / 10) out->whole = false;  // too large: not a count
    out->magnitude = out->magnitude * 10 + digit;
  }
  if (p->at == digits) return fail(p, "an unexpected character");
  while (p->at < p->end && *p->at != 0 && strchr(".eE+-0123456789", *p->at) != NULL) {
    out->whole = false;
    p->at++;
  }
  return true;
}

static const json_t *member(const json_t *object, const char *key) {
  if (object == NULL || object->type != JSON_OBJECT) return NULL;
  for (size_t i = 0; i < object->len; i++)
    if (equals(object->keys[i], key)) return &object->items[i];
  return NULL;
}

static bool unsigned_of(const json_t *value, uint64_t *out) {
  if (value == NULL || value->type != JSON_NUMBER || !value->whole || (value->negative && value->magnitude != 0))
    return false;
  *out = value->magnitude;
  return true;
}

static bool signed_of(const json_t *value, int64_t *out) {
  if (value == NULL || value->type != JSON_NUMBER || !value->whole) return false;
  if (value->magnitude > (uint64_t)INT64_MAX + (value->negative ? 1 : 0)) return false;
  *out = value->negative ? (int64_t)(0 - value->magnitude) : (int64_t)value->magnitude;
  return true;
}

static bool is_string(const json_t *value) { return value != NULL && value->type == JSON_STRING; }

static void free_table(table_t *table) {
  for (size_t i = 0; i < table->capacity; i++) {
    free(table->table[i].key.ptr);
    free(table->table[i].command.ptr);
    free(table->table[i].runs);
  }
  free(table->table);
  *table = (table_t){0};
}

/// Appends `[time, id]` pairs (`with_ids`) or bare times to `record`'s runs.
static bool read_runs(const json_t *runs, habit_t *record, bool with_ids) {
  if (runs == NULL || runs->type != JSON_ARRAY) return false;
  for (size_t i = 0; i < runs->len; i++) {
    const json_t *run = &runs->items[i];
    run_t read = {0};
    if (with_ids) {
      if (run->type != JSON_ARRAY || run->len != 2 || !signed_of(&run->items[0], &read.time_ms) ||
          !unsigned_of(&run->items[1], &read.id))
        return false;
    } else if (!signed_of(run, &read.time_ms)) {
      return false;
    }
    push_run(record, read);
  }
  return true;
}

static string_t copy_of(string_t text) { return owned_bytes(text.ptr, text.len); }

/// Reads the snapshot's `state` into `habits`, `people` and `file_changes`; false if malformed.
static bool read_state(const json_t *saved, table_t *habits, table_t *people, uint64_t *file_changes) {
  const json_t *list = member(saved, "habits"), *persons = member(saved, "people");
  if (list == NULL || list->type != JSON_ARRAY || persons == NULL || persons->type != JSON_OBJECT ||
      !unsigned_of(member(saved, "file_changes"), file_changes))
    return false;
  for (size_t i = 0; i < list->len; i++) {
    const json_t *pair = &list->items[i];
    if (pair->type != JSON_ARRAY || pair->len != 2) return false;
    const json_t *key = &pair->items[0], *fields = &pair->items[1];
    if (key->type != JSON_ARRAY || key->len != 2 || !is_string(&key->items[0]) || !is_string(&key->items[1]) ||
        !is_string(member(fields, "command")))
      return false;
    builder_t key_text = {0};
    append_string(&key_text, key->items[0].text);
    append(&key_text, "\x1f");
    append_string(&key_text, key->items[1].text);
    bool created;
    habit_t *habit = record_for(habits, key_text.text, &created);
    if (!created) return false;  // the same key twice
    habit->command_key_len = key->items[0].text.len;
    habit->command = copy_of(member(fields, "command")->text);
    int64_t reported_runs;
    uint64_t occasions;
    if (!read_runs(member(fields, "runs"), habit, true) ||
        !unsigned_of(member(fields, "changes_seen"), &habit->changes_seen) ||
        !unsigned_of(member(fields, "total"), &habit->total) ||
        !signed_of(member(fields, "reported_runs"), &reported_runs) || reported_runs < 0 ||
        !unsigned_of(member(fields, "occasions"), &occasions) || occasions > UINT32_MAX)
      return false;
    habit->reported_runs = reported_runs;
    habit->occasions = (uint32_t)occasions;
  }
  for (size_t i = 0; i < persons->len; i++) {
    bool created;
    habit_t *person = record_for(people, copy_of(persons->keys[i]), &created);
    if (!created || !unsigned_of(member(&persons->items[i], "total"), &person->total) ||
        !read_runs(member(&persons->items[i], "recent"), person, false))
      return false;
  }
  return true;
}

bool exports_devloop_detector_detector_restore(detector_plugin_list_u8_t *saved, string_t *err) {
  parser_t parser = {.at = saved->ptr, .end = saved->ptr + saved->len, .error = NULL};
  json_t document = {0};
  bool parsed = parse_value(&parser, &document, 0);
  skip_space(&parser);
  if (parsed && parser.at != parser.end) parsed = fail(&parser, "text after the value");
  builder_t reason = {0};
  if (!parsed) {
    append(&reason, "cannot read the saved state: ");
    append(&reason, parser.error != NULL ? parser.error : "malformed JSON");
  } else {
    // A snapshot without the envelope was written before formats existed: format 0.
    uint64_t format = 0;
    const json_t *state_value = member(&document, "state");
    if (document.type == JSON_OBJECT && document.len == 2 && state_value != NULL)
      unsigned_of(member(&document, "format"), &format);
    table_t habits = {0}, people = {0};
    uint64_t file_changes = 0;
    if (format > STATE_FORMAT) {
      append(&reason, "the saved state is in format ");
      append_unsigned(&reason, format);
      append(&reason, ", written by a newer version of this detector (this one reads format 1); starting fresh");
    } else if (format < STATE_FORMAT) {
      append(&reason, "the saved state is in format ");
      append_unsigned(&reason, format);
      append(&reason, ", from the burst-only version of this detector; starting fresh");
    } else if (!read_state(state_value, &habits, &people, &file_changes)) {
      append(&reason, "cannot read the saved state (format 1): it does not hold this detector's habits, people and "
                      "file changes");
    } else {
      free_table(&state.habits);
      free_table(&state.people);
      state.habits = habits;
      state.people = people;
      state.file_changes = file_changes;
    }
    if (reason.text.ptr != NULL) {
      free_table(&habits);
      free_table(&people);
    }
  }
  json_free(&document);
  detector_plugin_list_u8_free(saved);
  if (reason.text.ptr == NULL) return true;
  *err = reason.text;
  return false;
}
