// Plugin declarations (C data) to OptionDefs.
#include "test_support.hpp"

namespace trellis::config::testing {
namespace {

TEST(OptionDef, FromSpecCopiesEverythingAndSplitsAliases) {
  const trellis_option_spec spec{"wsgi-file", "file, wsgi", 'w', TRELLIS_OPT_STRING, "app.py", "FILE", "the app"};
  const auto d = from_spec(spec, "python");
  EXPECT_EQ(d.name, "wsgi-file");
  EXPECT_EQ(d.aliases, (std::vector<std::string>{"file", "wsgi"}));
  EXPECT_EQ(d.short_name, 'w');
  EXPECT_EQ(d.type, TRELLIS_OPT_STRING);
  EXPECT_EQ(d.default_value, "app.py");
  EXPECT_EQ(d.value_name, "FILE");
  EXPECT_EQ(d.help, "the app");
  EXPECT_EQ(d.owner, "python");
}

TEST(OptionDef, NullFieldsAreEmpty) {
  const trellis_option_spec spec{"master", nullptr, 0, TRELLIS_OPT_FLAG, nullptr, nullptr, nullptr};
  const auto d = from_spec(spec, "core");
  EXPECT_TRUE(d.aliases.empty());
  EXPECT_FALSE(d.default_value.has_value());
  EXPECT_TRUE(d.help.empty());
}

TEST(OptionDef, BadDeclarationsNameThePlugin) {
  const trellis_option_spec no_name{nullptr, nullptr, 0, TRELLIS_OPT_FLAG, nullptr, nullptr, nullptr};
  const auto e = error_of([&] { from_spec(no_name, "broken"); });
  EXPECT_EQ(e.kind, ConfigError::Kind::declaration);
  EXPECT_NE(std::string(e.what()).find("'broken'"), std::string::npos);

  const trellis_option_spec bad_type{"x", nullptr, 0, 9, nullptr, nullptr, nullptr};
  EXPECT_STREQ(error_of([&] { from_spec(bad_type, "broken"); }).what(),
               "plugin 'broken' declares option 'x' with unknown type 9");
  const trellis_option_spec bad_alias{"x", "ok,has space", 0, TRELLIS_OPT_FLAG, nullptr, nullptr, nullptr};
  EXPECT_EQ(error_of([&] { from_spec(bad_alias, "broken"); }).kind, ConfigError::Kind::declaration);
}

TEST(OptionDef, FromSpecsFeedsResolve) {
  static const trellis_option_spec specs[] = {
      {"harakiri", nullptr, 0, TRELLIS_OPT_INT, "0", "SECONDS", "kill slow requests"},
      {"static-map", nullptr, 0, TRELLIS_OPT_LIST, nullptr, "URL=DIR", "serve files"},
  };
  const auto defs = from_specs(specs, 2, "extras");
  ASSERT_EQ(defs.size(), 2u);
  const auto config = resolve(boot({"--static-map", "/s=/srv", "--static-map=/m=/media"}), defs);
  EXPECT_EQ(config.integer("harakiri", -1), 0);
  EXPECT_EQ(values(config, "static-map"), (std::vector<std::string>{"/s=/srv", "/m=/media"}));
}

}  // namespace
}  // namespace trellis::config::testing
