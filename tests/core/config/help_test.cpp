#include "test_support.hpp"

namespace trellis::config::testing {
namespace {

TEST(Help, GroupsByOwnerCoreFirst) {
  const auto options = join(join(python_options(), core_options()), http_options());
  const auto text = help_text(options);
  const auto usage = text.find("Usage: trellis [OPTIONS]");
  const auto core = text.find("\nCore options:\n");
  const auto python = text.find("\nPlugin python options:\n");
  const auto http = text.find("\nPlugin http options:\n");
  EXPECT_EQ(usage, 0u);
  ASSERT_NE(core, std::string::npos);
  ASSERT_NE(python, std::string::npos);
  ASSERT_NE(http, std::string::npos);
  EXPECT_LT(core, python);  // core first even though python came first
  EXPECT_LT(python, http);
  // Options sit in their group.
  const auto wsgi = text.find("--wsgi-file");
  EXPECT_GT(wsgi, python);
  EXPECT_LT(wsgi, http);
  EXPECT_GT(text.find("--processes"), core);
  EXPECT_LT(text.find("--processes"), python);
}

TEST(Help, ShowsShortNamesValueNamesDefaultsAliases) {
  auto options = core_options();
  // Not = "N": GCC 12 at -O3 warns (-Wrestrict, a false positive) about the
  // inlined assignment of a one-character literal.
  options[0].value_name = std::string("N");
  const auto text = help_text(options, "trellisd");
  EXPECT_NE(text.find("Usage: trellisd "), std::string::npos);
  EXPECT_NE(text.find("-p, --processes N"), std::string::npos);
  EXPECT_NE(text.find("help for processes (default: 1; alias: --workers)"), std::string::npos);
  EXPECT_NE(text.find("-h, --help"), std::string::npos);           // bootstrap options included
  EXPECT_NE(text.find("--plugin NAME[,NAME...]"), std::string::npos);
  EXPECT_NE(text.find("alias: --plugins; repeatable"), std::string::npos);
  EXPECT_NE(text.find("    --master "), std::string::npos);        // flags have no value name
  EXPECT_NE(text.find("TRELLIS_<NAME>"), std::string::npos);
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// The line of an option, from "--name " to the end of that line.
std::string line_of(const std::string& text, const std::string& name) {
  const auto start = text.find("--" + name + " ");
  if (start == std::string::npos) return {};
  const auto end = text.find('\n', start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

TEST(Help, RepeatableIsSaidOncePerListOption) {
  auto options = join(core_options(), python_options());
  options.push_back(def("http-socket", TRELLIS_OPT_LIST, "http"));
  for (auto& d : options) {
    if (d.name == "env") d.help = "set an environment variable for the application (repeatable)";
    if (d.name == "pythonpath") d.help = "add DIR to sys.path (repeatable)";
    if (d.name == "http-socket") d.help = "serve HTTP/1.1 on ADDR; Repeatable";
  }
  const auto text = help_text(options);
  EXPECT_EQ(count(text, "(repeatable) (repeatable)"), 0u) << text;
  EXPECT_EQ(count(text, "repeatable)"), count(text, "(repeatable)") + count(text, "; repeatable)"));

  const auto env = line_of(text, "env");
  EXPECT_EQ(count(env, "(repeatable)"), 1u) << env;
  EXPECT_EQ(count(env, "repeatable"), 1u) << env;
  const auto pythonpath = line_of(text, "pythonpath");
  EXPECT_EQ(count(pythonpath, "(repeatable)"), 1u) << pythonpath;
  EXPECT_EQ(count(pythonpath, "repeatable"), 1u) << pythonpath;
  EXPECT_NE(pythonpath.find("add DIR to sys.path (repeatable) (alias: --python-path)"), std::string::npos)
      << pythonpath;
  const auto http = line_of(text, "http-socket");
  EXPECT_EQ(count(http, "epeatable"), 1u) << http;  // its own wording, not ours again
  EXPECT_EQ(http.find("(repeatable)"), std::string::npos) << http;

  // A LIST option whose help says nothing still gets the note, once.
  const auto plugin = line_of(text, "plugin");
  EXPECT_EQ(count(plugin, "repeatable"), 1u) << plugin;
  // Non-LIST options never get it.
  EXPECT_EQ(line_of(text, "processes").find("repeatable"), std::string::npos);
}

}  // namespace
}  // namespace trellis::config::testing
