// trellis configuration: the one place that parses options.
//
// Two phases, because plugins declare options and are only known once they
// are loaded, and which plugins to load is itself configuration:
//
//   1. bootstrap(argv, env): reads only what is needed to find and load
//      plugins (--plugin, --plugin-dir, --ini, --help, --version,
//      --plugins-list), reads every ini file and the TRELLIS_* environment,
//      and keeps everything else, unvalidated, for phase 2.
//   2. resolve(bootstrap, loaded, not_loaded): builds one Boost.Program_options
//      description out of the core's and every loaded plugin's OptionDefs,
//      parses argv again fully and feeds every ini and environment setting
//      through the same description, so every source is validated the same
//      way. The result is an immutable Config.
//
// Sources and precedence (uWSGI users must feel at home):
//   * ini files: `--ini FILE[:SECTION]` (repeatable), a bare `FILE.ini`
//     argument, TRELLIS_INI, and `ini = other.ini` inside a file. Section
//     [trellis], else [uwsgi]. Magic variables %d %p %n %s %e %c %o %x %%,
//     %k (CPUs) %h (host name) %t %T (unix time, s / us) %u %g (uid, gid).
//     Placeholders, as in uWSGI: `%(name)` is the value of the latest
//     `name = ...` read before it from the same --ini file or its includes
//     (`base = /srv/app` then `chdir = %(base)`, `pythonpath = %(base)/lib`,
//     `x = %(socket)`); chains work since values are expanded as they are
//     read. An undefined `%(name)` is kept as it is, like uWSGI does. A key
//     used as a placeholder need not be an option: when no option (loaded
//     or not) has its name it is skipped without error or warning, in
//     [trellis] sections too; other unknown keys are reported as usual.
//   * environment: TRELLIS_HTTP_SOCKET=... sets `http-socket`.
//   * command line: --name=value, --name value, -p 4, --flag, --flag=false.
//   Single-valued options: command line > environment > ini; within one
//   source the last one wins. LIST options keep every value, in the order
//   ini, environment, command line. Defaults apply only when nothing set the
//   option.
//
// Everything throws ConfigError (one clear line, plus structured fields).
#pragma once

#include <trellis/abi.h>

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace trellis::config {

// ---------------------------------------------------------------- errors

struct ConfigError : std::runtime_error {
  enum class Kind {
    usage,              // malformed command line (e.g. unexpected argument)
    unknown_option,     // nobody declares this option
    plugin_not_loaded,  // a known plugin declares it, but it is not loaded
    missing_value,      // STRING/INT/LIST option given without a value
    bad_value,          // "processes = abc", "master = maybe"
    file,               // ini file missing/unreadable, section missing, include loop
    syntax,             // malformed ini line
    declaration,        // bad or duplicate OptionDef (a plugin bug, not a user one)
  };

  ConfigError(Kind kind, const std::string& message) : std::runtime_error(message), kind(kind) {}

  Kind kind;
  std::string unknown_key;      // option name as the user wrote it, without dashes
                                // ("wsgi-file"); set for unknown_option/plugin_not_loaded
  std::string provider_plugin;  // plugin that would provide unknown_key, if any
  std::string suggestion;       // closest known option name, if any
  std::string origin;           // "app.ini:12", "--processes", "TRELLIS_PROCESSES", ...
};

// ---------------------------------------------------------------- option definitions

// One option, whoever declares it: the core's own tables and every plugin's
// trellis_option_spec become these.
struct OptionDef {
  std::string name;                  // long name, "wsgi-file"
  std::vector<std::string> aliases;  // other long names ("workers" for "processes")
  char short_name = 0;               // 'p', or 0
  trellis_option_type type = TRELLIS_OPT_STRING;
  std::optional<std::string> default_value;  // as text; validated like user input
  std::string value_name;            // "FILE" in --help
  std::string help;
  std::string owner;                 // "core" or the plugin name
};

// Converts a plugin's C declaration. NULL fields become empty; aliases are
// split on commas. Throws ConfigError(declaration) for an empty/invalid name
// or an unknown type, naming the owner.
OptionDef from_spec(const trellis_option_spec& spec, std::string owner);
// `stride`: the size of one spec as the plugin was built (its descriptor's
// option_size); 0 means this build's.
std::vector<OptionDef> from_specs(const trellis_option_spec* specs, std::size_t count,
                                  const std::string& owner, std::size_t stride = 0);

// The options phase 1 understands (plugin/plugins, plugin-dir/plugins-dir,
// ini, help/-h, version, plugins-list), owner "core". resolve() and
// help_text() add them by themselves: do not pass them again.
const std::vector<OptionDef>& bootstrap_options();

// ---------------------------------------------------------------- phase 1

enum class Source { ini, environment, command_line };  // also the precedence order

// One `key = value` from an ini file or one TRELLIS_* variable, kept for
// phase 2. Command-line arguments are kept raw (Bootstrap::arguments), since
// only the full option table knows whether "--x y" means "x=y".
struct Setting {
  std::string key;     // option name as written ("workers", "http-socket")
  std::string value;
  Source source;
  std::string origin;  // "app.ini:12", "TRELLIS_PROCESSES"
  bool bare = false;   // ini line "master" without "= value": sets a flag
  bool uwsgi_section = false;  // read from an [uwsgi] section (see ResolveOptions)
  bool placeholder = false;    // ini key whose value a later `%(key)` used: if no
                               // option has that name, resolve() skips it silently
};

struct BootstrapOptions {
  // TRELLIS_* variables that are not options (used by the core itself or by
  // tests): skipped entirely, so they never cause "unknown" errors. This
  // includes the bootstrap ones: an ignored TRELLIS_PLUGIN_DIR is not added
  // to Bootstrap::plugin_dirs (the caller reads it itself).
  std::set<std::string, std::less<>> ignore_env;
};

struct Bootstrap {
  std::vector<std::string> plugins;      // every --plugin / plugin(s)= / TRELLIS_PLUGINS
                                         // value, comma lists split, order: ini, env, argv
  std::vector<std::string> plugin_dirs;  // --plugin-dir, plugin(s)-dir=, TRELLIS_PLUGIN_DIR
                                         // (colon separated, like PATH)
  std::vector<Setting> settings;         // every ini setting (file order), then every
                                         // environment setting: input for phase 2
  std::vector<std::string> arguments;    // argv without argv[0], reparsed in phase 2
  std::vector<std::string> ini_files;    // absolute paths read, includes too, in order
  bool help = false, version = false, plugins_list = false;
};

// Phase 1. `argv` includes argv[0]. `env` is the process environment (only
// TRELLIS_* entries matter). Reads the ini files. Unknown options are left
// for phase 2, which is where they are reported. Throws ConfigError.
// Limitation: a bare argument ending in ".ini" is taken as an ini file even
// when it is really the separate value of a plugin option ("--x a.ini"); use
// "--x=a.ini" there.
Bootstrap bootstrap(std::span<const char* const> argv, const std::map<std::string, std::string>& env,
                    const BootstrapOptions& options = {});

// ---------------------------------------------------------------- phase 2

class Config {
 public:
  // Final values of an option (by name or alias), defaults applied: every
  // value for LIST, the winning one for the others ("true"/"false" for
  // FLAG, normalised). Empty span if unset or unknown.
  std::span<const std::string> values(std::string_view name) const;
  // FLAG value; false if unset.
  bool flag(std::string_view name) const;
  // Last value (for LIST too), or nullopt.
  std::optional<std::string> get(std::string_view name) const;
  // INT value (validated by resolve), or `fallback` if unset / not a number.
  long long integer(std::string_view name, long long fallback) const;
  // Explicitly set by the user (defaults don't count).
  bool was_set(std::string_view name) const;
  // Where the winning value came from: "app.ini:12", "--processes",
  // "TRELLIS_PROCESSES", "default"; nullopt if unset. For log messages.
  std::optional<std::string> origin(std::string_view name) const;
  // The declaration of an option (by name or alias), or nullptr.
  const OptionDef* find(std::string_view name) const;
  // Every accepted user setting in application order (ini, env, command
  // line), with canonical option names as keys: for "--show-config".
  const std::vector<Setting>& applied() const { return applied_; }
  // Non-fatal notes, e.g. unknown keys ignored from [uwsgi] sections.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  friend class ConfigBuilder;
  struct Entry {
    OptionDef def;
    std::vector<std::string> values;
    std::string origin;  // of the last value
    bool set_by_user = false;
  };
  const Entry* lookup(std::string_view name) const;

  std::map<std::string, Entry, std::less<>> entries_;             // canonical name -> entry
  std::map<std::string, std::string, std::less<>> canonical_;     // name or alias -> canonical
  std::vector<Setting> applied_;
  std::vector<std::string> warnings_;
};

struct ResolveOptions {
  // uWSGI ini files carry many options trellis does not have ("vacuum",
  // "chdir", ...). When true, unknown keys read from an [uwsgi] section are
  // skipped with a warning (Config::warnings) instead of failing. Keys that a
  // not-loaded plugin provides still fail, so plugins can be auto-loaded.
  bool lenient_uwsgi_sections = false;
};

// Phase 2. `loaded`: the core's options and those of every loaded plugin.
// `not_loaded`: options of plugins that are available but not loaded, used
// only to say "provided by plugin X" instead of "unknown". Throws
// ConfigError: unknown option (with the closest known name), option of a
// not-loaded plugin, missing or invalid value, duplicate declarations.
Config resolve(const Bootstrap& bootstrap, std::span<const OptionDef> loaded,
               std::span<const OptionDef> not_loaded = {}, const ResolveOptions& options = {});

// ---------------------------------------------------------------- help

// "Usage: ..." then the options grouped by owner: "Core options:" first
// (including the bootstrap options), then "Plugin <name> options:" in order
// of first appearance, each with short name, aliases, value name, default.
std::string help_text(std::span<const OptionDef> options, std::string_view program = "trellis");

}  // namespace trellis::config
