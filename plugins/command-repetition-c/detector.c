// command_repetition in C: the same command line run again and again within minutes.
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

/// The runs of one command by one person, and whether the current burst was reported.
typedef struct {
  string_t key;  // "command\x1fwho"
  run_t *runs;   // runs[head..len] are inside the window
  size_t head, len, capacity;
  bool reported;
  uint32_t bursts;
} burst_t;

static struct {
  int64_t min_repeats, window_ms;
  burst_t *table;  // open addressing on the key's FNV-1a hash; empty slots have key.ptr == NULL
  size_t capacity, used;
} state = {.min_repeats = 3, .window_ms = 120000};

static uint64_t hash(string_t key) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < key.len; i++) h = (h ^ key.ptr[i]) * 0x100000001b3ULL;
  return h;
}

static burst_t *slot_for(burst_t *table, size_t capacity, string_t key) {
  size_t i = hash(key) & (capacity - 1);
  while (table[i].key.ptr != NULL && !(table[i].key.len == key.len && memcmp(table[i].key.ptr, key.ptr, key.len) == 0))
    i = (i + 1) & (capacity - 1);
  return &table[i];
}

/// The burst record for `key` (taking ownership of it), created when missing.
static burst_t *burst_for(string_t key) {
  if ((state.used + 1) * 2 > state.capacity) {
    size_t capacity = state.capacity == 0 ? 64 : state.capacity * 2;
    burst_t *table = checked(calloc(capacity, sizeof(burst_t)));
    for (size_t i = 0; i < state.capacity; i++)
      if (state.table[i].key.ptr != NULL) *slot_for(table, capacity, state.table[i].key) = state.table[i];
    free(state.table);
    state.table = table;
    state.capacity = capacity;
  }
  burst_t *burst = slot_for(state.table, state.capacity, key);
  if (burst->key.ptr == NULL) {
    burst->key = key;
    state.used++;
  } else {
    free(key.ptr);
  }
  return burst;
}

static void push_run(burst_t *burst, run_t run) {
  if (burst->head > 0 && burst->head == burst->len) burst->head = burst->len = 0;
  if (burst->len == burst->capacity) {
    if (burst->head > 0) {
      memmove(burst->runs, burst->runs + burst->head, (burst->len - burst->head) * sizeof(run_t));
      burst->len -= burst->head;
      burst->head = 0;
    } else {
      burst->capacity = burst->capacity == 0 ? 8 : burst->capacity * 2;
      burst->runs = checked(realloc(burst->runs, burst->capacity * sizeof(run_t)));
    }
  }
  burst->runs[burst->len++] = run;
}

// ---- the detector ----------------------------------------------------------------------------

static bool on_event(const event_t *event, insight_t *insight) {
  if (event->outcome.status == DEVLOOP_DETECTOR_TYPES_STATUS_FAILURE) return false;
  string_t subject = event->subject.is_some ? event->subject.val : (string_t){0};
  string_t command = normalize(subject);
  if (command.len == 0) {
    free(command.ptr);
    return false;
  }
  string_t who = event->thread_id.is_some ? event->thread_id.val
                 : event->actor.is_some   ? event->actor.val
                                          : (string_t){.ptr = (uint8_t *)"", .len = 0};
  builder_t key_text = {0};
  append_string(&key_text, command);
  append(&key_text, "\x1f");
  append_string(&key_text, who);
  string_t key = key_text.text;
  burst_t *burst = burst_for(owned_bytes(key.ptr, key.len));
  while (burst->head < burst->len && event->time_ms - burst->runs[burst->head].time_ms > state.window_ms) burst->head++;
  if (burst->head == burst->len) burst->reported = false;
  push_run(burst, (run_t){.time_ms = event->time_ms, .id = event->id});
  int64_t runs = (int64_t)(burst->len - burst->head);
  if (runs < state.min_repeats || burst->reported) {
    free(command.ptr);
    free(key.ptr);
    return false;
  }
  burst->reported = true;
  burst->bursts += 1;

  const run_t *window = burst->runs + burst->head;
  int64_t span_ms = event->time_ms - window[0].time_ms;
  double confidence = 0.6 + 0.1 * (double)(runs - state.min_repeats) + 0.1 * (double)(burst->bursts - 1);
  confidence = fmin(confidence, 0.95);
  builder_t message = {0};
  append(&message, "`");
  append_string(&message, command);
  append(&message, "` was run ");
  append_integer(&message, runs);
  append(&message, " times in ");
  append_seconds(&message, span_ms);
  append(&message, "s by ");
  if (who.len > 0) append_string(&message, who);
  else append(&message, "one user");
  builder_t recommendation = {0};
  append(&recommendation, "Make `");
  append_string(&recommendation, command);
  append(&recommendation, "` say clearly whether it worked and what changed (a summary line, a non-zero exit code "
                          "on failure), so nobody has to run it again to check.");
  *insight = (insight_t){
      .pattern = owned(PATTERN),
      .key = key,
      .severity = burst->bursts >= 3 ? DEVLOOP_DETECTOR_TYPES_SEVERITY_WARNING : DEVLOOP_DETECTOR_TYPES_SEVERITY_INFO,
      .confidence = (float)fmax(0.0, fmin(confidence, 1.0)),
      .message = message.text,
      .recommendation = recommendation.text,
  };

  size_t ids = 0;
  insight->evidence.event_ids.ptr = checked(malloc(MAX_EVIDENCE_EVENTS * sizeof(uint64_t)));
  for (int64_t i = 0; i < runs; i++) {
    bool seen = false;
    for (size_t j = 0; j < ids; j++) seen = seen || insight->evidence.event_ids.ptr[j] == window[i].id;
    if (ids < MAX_EVIDENCE_EVENTS && !seen) insight->evidence.event_ids.ptr[ids++] = window[i].id;
    if (window[i].time_ms > insight->time_ms) insight->time_ms = window[i].time_ms;
  }
  insight->evidence.event_ids.len = ids;

  field_t *fields = checked(malloc(6 * sizeof(field_t)));
  size_t count = 0;
  fields[count++] = field("command", (value_t){.tag = DEVLOOP_DETECTOR_TYPES_VALUE_TEXT, .val.text = command});
  fields[count++] = field("runs", integer_value(runs));
  fields[count++] = field("span_seconds", (value_t){.tag = DEVLOOP_DETECTOR_TYPES_VALUE_FLOAT, .val.float_ = (double)span_ms / 1000.0});
  fields[count++] = field("bursts", integer_value(burst->bursts));
  fields[count++] = field("window_seconds", integer_value(state.window_ms / 1000));
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
    {"min_repeats", "Successful runs of one command that make a burst.", 3, 2},
    {"window_seconds", "How close together the runs of a burst are.", 120, 1},
};
#define SETTING_COUNT (sizeof(SETTINGS) / sizeof(SETTINGS[0]))

static detector_plugin_list_string_t strings(const char *only) {
  detector_plugin_list_string_t list = {.ptr = checked(malloc(sizeof(string_t))), .len = 1};
  list.ptr[0] = owned(only);
  return list;
}

void exports_devloop_detector_detector_describe(exports_devloop_detector_detector_info_t *ret) {
  exports_devloop_detector_detector_config_key_t *config = checked(malloc(SETTING_COUNT * sizeof(*config)));
  for (size_t i = 0; i < SETTING_COUNT; i++) {
    config[i] = (exports_devloop_detector_detector_config_key_t){
        .name = owned(SETTINGS[i].name),
        .default_value = integer_value(SETTINGS[i].default_value),
        .description = owned(SETTINGS[i].description),
    };
  }
  *ret = (exports_devloop_detector_detector_info_t){
      .id = owned("command-repetition"),
      .version = owned("0.1.0"),
      .api_version = owned("0.1.0"),
      .patterns = strings(PATTERN),
      .kinds = strings("cli.command"),
      .config = {.ptr = config, .len = SETTING_COUNT},
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
  bool ok = true;
  for (size_t f = 0; f < settings->len && ok; f++) {
    size_t i = 0;
    while (i < SETTING_COUNT && !equals(settings->ptr[f].key, SETTINGS[i].name)) i++;
    if (i == SETTING_COUNT) {
      builder_t message = {0};
      append(&message, "unknown setting `");
      append_string(&message, settings->ptr[f].key);
      append(&message, "`; this detector accepts: min_repeats, window_seconds");
      *err = message.text;
      ok = false;
    } else {
      given[i] = settings->ptr[f].value;
    }
  }
  for (size_t i = 0; i < SETTING_COUNT && ok; i++)
    ok = integer_at_least(SETTINGS[i].name, given[i], SETTINGS[i].minimum, &values[i], err);
  if (ok) {
    state.min_repeats = values[0];
    state.window_ms = values[1] * 1000;
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
