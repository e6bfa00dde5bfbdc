/*
 * The plugin boundary as plain C data.
 *
 * This is the only thing the host reads from a freshly opened shared object
 * before it has decided the plugin is safe to use: a C struct, reached
 * through one exported symbol. Nothing here runs C++ code, so a plugin built
 * by another compiler or against another SDK can be refused with a clear
 * message instead of crashing in a vtable.
 */
#ifndef TRELLIS_ABI_H
#define TRELLIS_ABI_H

#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
/* Defines the standard library's version macros (_GLIBCXX_RELEASE, ...) so
 * the fingerprint below never depends on what was included before. */
#include <cstddef>
#endif

#define TRELLIS_ABI_MAJOR 1u
#define TRELLIS_ABI_MINOR 1u

/* "TRLS": lets the host tell a random alias from ours. */
#define TRELLIS_DESCRIPTOR_MAGIC 0x534c5254u

/* The exported alias every plugin defines (see TRELLIS_PLUGIN_ENTRY). */
#define TRELLIS_ENTRY_SYMBOL "trellis_plugin_entry"

#define TRELLIS_STR2(x) #x
#define TRELLIS_STR(x) TRELLIS_STR2(x)

/* Compiler family and major version: C++ class layout and vtables are only
 * trusted between builds of the same family and major. */
#if defined(__clang__)
#define TRELLIS_COMPILER_ID "clang-" TRELLIS_STR(__clang_major__)
#elif defined(__GNUC__)
#define TRELLIS_COMPILER_ID "gcc-" TRELLIS_STR(__GNUC__)
#else
#define TRELLIS_COMPILER_ID "unknown"
#endif

/* Standard library and its dual-ABI switch (std::string layout differs). */
#if defined(_GLIBCXX_RELEASE)
#define TRELLIS_STDLIB_ID "libstdc++-" TRELLIS_STR(_GLIBCXX_RELEASE) \
  " cxx11abi=" TRELLIS_STR(_GLIBCXX_USE_CXX11_ABI)
#elif defined(_LIBCPP_VERSION)
#define TRELLIS_STDLIB_ID "libc++-" TRELLIS_STR(_LIBCPP_VERSION) " cxx11abi=n/a"
#else
#define TRELLIS_STDLIB_ID "unknown-stdlib"
#endif

#define TRELLIS_TOOLCHAIN_FINGERPRINT TRELLIS_COMPILER_ID " " TRELLIS_STDLIB_ID

#ifdef __cplusplus
extern "C" {
#endif

typedef enum trellis_plugin_kind {
  TRELLIS_KIND_GENERAL = 0,
  TRELLIS_KIND_RUNTIME = 1,     /* runs applications (python) */
  TRELLIS_KIND_PROTOCOL = 2,    /* speaks a wire protocol (http, uwsgi) */
  TRELLIS_KIND_LOCK_ENGINE = 3  /* accept locks */
} trellis_plugin_kind;

typedef enum trellis_option_type {
  TRELLIS_OPT_FLAG = 0,    /* boolean: "--master", "master = true" */
  TRELLIS_OPT_STRING = 1,  /* last value wins */
  TRELLIS_OPT_INT = 2,     /* integer, checked by the core */
  TRELLIS_OPT_LIST = 3     /* repeatable: every value is kept, in order */
} trellis_option_type;

/* One option a plugin declares. Plugins never parse the command line: the
 * core builds one parser out of every loaded plugin's table. */
typedef struct trellis_option_spec {
  const char* name;          /* long name, e.g. "wsgi-file" */
  const char* aliases;       /* comma separated other long names, or NULL */
  char short_name;           /* e.g. 'w', or 0 */
  uint32_t type;             /* trellis_option_type */
  const char* default_value; /* as text, or NULL */
  const char* value_name;    /* shown in --help, e.g. "FILE" */
  const char* help;
} trellis_option_spec;

typedef struct trellis_plugin_descriptor {
  uint32_t magic;           /* TRELLIS_DESCRIPTOR_MAGIC */
  uint32_t abi_major;       /* must equal the host's */
  uint32_t abi_minor;       /* must be <= the host's */
  uint32_t descriptor_size; /* sizeof at build time, for later growth */
  const char* toolchain;    /* TRELLIS_TOOLCHAIN_FINGERPRINT at build time */
  const char* name;         /* "http", "python", ... */
  const char* version;      /* the plugin's own version */
  uint32_t kind;            /* trellis_plugin_kind */
  const char* summary;      /* one line for --plugins-list */
  const trellis_option_spec* options;
  size_t option_count;
  /* Called only after every check passed. `host` is a trellis::sdk::Host*,
   * the result a trellis::sdk::Plugin* owned by the plugin (never freed:
   * plugins are never unloaded). NULL means the plugin failed to start and
   * has logged why through the host. */
  void* (*create)(void* host);
} trellis_plugin_descriptor;

typedef const trellis_plugin_descriptor* (*trellis_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* TRELLIS_ABI_H */
