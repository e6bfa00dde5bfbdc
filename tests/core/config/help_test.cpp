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
  options[0].value_name = "N";
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

}  // namespace
}  // namespace trellis::config::testing
