// command_repetition in C: one command run unusually often by one person, unexplained.
//
// A port of plugins/command-repetition (Rust) that passes the same conformance cases. It does
// not hand its state over (snapshot returns none), so a hot swap to or from it starts fresh.
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

bool exports_devloop_detector_detector_snapshot(detector_plugin_list_u8_t *ret) {
  (void)ret;
  return false;
}

bool exports_devloop_detector_detector_restore(detector_plugin_list_u8_t *saved, string_t *err) {
  detector_plugin_list_u8_free(saved);
  *err = owned("this detector does not restore state");
  return false;
}
